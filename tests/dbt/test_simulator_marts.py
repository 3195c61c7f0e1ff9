"""The synced simulator, after rounds of activity, built with dbt (the `sim_warehouse` fixture):
the marts against the simulator's ground truth (counted here in plain Python, not with our
SQL), and every mart against every other."""

from __future__ import annotations

from collections import Counter

import pytest

pytestmark = pytest.mark.xdist_group("dbt")

# Independent of the dbt macro on purpose: the folding the counting rules document.
_RETIRED = {"retired", "retirement"}
_CANCELLED = {"cancelled", "canceled", "cancellation"}


def _status(status: object) -> str:
    return " ".join(status.lower().split()) if isinstance(status, str) else ""


def test_marts_match_simulator_truth_after_activity(sim_warehouse):
    sim, one = sim_warehouse.sim, lambda sql: sim_warehouse.query(sql)[0][0]
    units = sim.truth("units")
    issuance_ids = {i["id"] for i in sim.truth("issuances")}
    projects = sim.truth("projects")
    count = Counter()
    for u in units:
        n = int(u.get("unitCount") or 0)
        count["all"] += n
        if u.get("issuanceId") in issuance_ids:
            count["with_issuance"] += n
        if _status(u.get("unitStatus")) in _RETIRED:
            count["retired"] += n
            count["retired_records"] += 1

    assert one("select sum(quantity) from marts.fct_credit_balances") == count["all"]
    assert one("select sum(quantity_issued) from marts.fct_issuances where issuance_exists") == (
        count["with_issuance"]
    )
    assert one("select coalesce(sum(quantity), 0) from marts.fct_retirements") == count["retired"]
    assert one("select count(*) from marts.fct_retirements") == count["retired_records"]
    assert one(
        "select count(*) from marts.dim_projects where project_record_status = 'current'"
    ) == len(projects)
    assert one("select count(*) from marts.mart_article6_units") == len(units)
    assert one("select count(*) from marts.search_index where doc_type = 'unit'") == len(units)
    # the simulator publishes full history: every retirement date comes from the audit
    sources = dict(
        sim_warehouse.query(
            "select retired_at_source, count(*) from marts.fct_retirements group by 1"
        )
    )
    assert set(sources) <= {"audit_history", "audit_split_parent"}, sources


def test_totals_agree_across_marts_to_the_unit(sim_warehouse):
    """Issued, retired, cancelled and outstanding: the truth, and every mart that shows them."""
    truth = Counter()
    for u in sim_warehouse.sim.truth("units"):
        n, status = int(u.get("unitCount") or 0), _status(u.get("unitStatus"))
        truth["issued"] += n
        truth["retired"] += n * (status in _RETIRED)
        truth["cancelled"] += n * (status in _CANCELLED)
    sums = "sum(quantity_issued), sum(quantity_retired), sum(quantity_cancelled), " + (
        "sum(quantity_outstanding)"
    )
    expected = sim_warehouse.query(f"select {sums} from marts.fct_units")[0]
    assert expected[:3] == (truth["issued"], truth["retired"], truth["cancelled"])
    for mart in ("dim_projects", "fct_issuances", "mart_developer_portfolio"):
        assert sim_warehouse.query(f"select {sums} from marts.{mart}")[0] == expected, mart
    assert sim_warehouse.query(
        "select sum(quantity), sum(quantity) filter (where status_group = 'retired'), "
        "sum(quantity) filter (where status_group = 'cancelled'), "
        "sum(quantity) filter (where status_group = 'outstanding') from marts.fct_credit_balances"
    )[0] == expected
    assert sim_warehouse.query(
        "select sum(quantity_total), sum(quantity_retired) from marts.mart_article6_by_country"
    )[0] == expected[:2]
    # no registry is NULL here: every organization of the simulator names a registry
    assert sim_warehouse.query(
        "select count(*) from marts.dim_projects where registry is null"
    ) == [(0,)]
