"""Marts across both data models (docs/counting-rules.md, Both data models; Article 6 AEF), on
real syncs of the simulator (seed 21: v1-only organizations, one v2-only and one publishing
both), built once for the module with the real `dbt build` (tests included: the AEF
reconciliation and the counted-once tests are data tests of the build)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import V2
from pipelines.sync import SyncSettings, run_sync
from pipelines.transform import build

pytestmark = pytest.mark.xdist_group("dbt")


@dataclass
class Mixed:
    sim: Simulator
    q: Callable[[str], list[tuple]]


def _read(db: Path) -> Callable[[str], list[tuple]]:
    def run(sql: str) -> list[tuple]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mixed]:
    root = tmp_path_factory.mktemp("dbt_v2")
    with Simulator(seed=21, scale=1, v2=True) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=root / "cadt.duckdb")
        for catalog in (V1, V2):
            assert run_sync(settings, catalog=catalog).status == "success"
        for kind in ("v2_retire", "v2_aef_actions"):
            sim.activity(kind, count=3)
        assert run_sync(settings, catalog=V2).status == "success"
        assert build(settings.database, target_path=root / "target") == 0
        yield Mixed(sim, _read(settings.database))


def test_v1_only_warehouse_builds(tmp_path: Path):
    """A node without v2: the cadt_v2 tables exist (empty), every model and test builds."""
    with Simulator(seed=3, scale=0.3) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=tmp_path / "v1.duckdb")
        assert run_sync(settings, catalog=V1).status == "success"
    assert build(settings.database, target_path=tmp_path / "target") == 0
    q = _read(settings.database)
    assert q("select count(*) from cadt_v2.unit") == [(0,)]
    assert q("select distinct data_model from marts.fct_units") == [("v1",)]
    assert q("select count(*) from marts.mart_article6_aef_approaches") == [(0,)]


def test_every_kind_of_organization_is_in_the_marts(mixed):
    orgs = dict(mixed.q("select org_uid, string_agg(distinct data_model, ',' order by data_model) "
                        "from marts.fct_units group by 1"))
    v1 = {r[0] for r in mixed.q("select org_uid from cadt_v1.organizations")}
    v2 = {r[0] for r in mixed.q("select org_uid from cadt_v2.organizations")}
    both, v2_only, v1_only = v1 & v2, v2 - v1, v1 - v2
    assert both and v2_only and v1_only
    assert {orgs[o] for o in v1_only} == {"v1"}
    assert {orgs[o] for o in v2_only} == {"v2"}
    assert {orgs[o] for o in both} == {"v1,v2"}


def test_an_organization_publishing_both_models_is_counted_once(mixed):
    (both,) = mixed.q("select o.org_uid from cadt_v1.organizations o join cadt_v2.organizations "
                      "using (org_uid)")[0]
    # its republished projects: the v1 record is superseded, the v2 one counts
    pairs = mixed.q(f"""
        select v1.warehouse_project_id, v2.warehouse_project_id, v1.quantity_issued,
               v2.quantity_issued, v1.is_superseded, v2.is_superseded
        from marts.dim_projects v1 join marts.dim_projects v2
          on v1.registry_project_id = v2.registry_project_id and v1.org_uid = v2.org_uid
        where v1.data_model = 'v1' and v2.data_model = 'v2' and v1.org_uid = '{both}'""")
    assert pairs
    for _, _, q1, q2, s1, s2 in pairs:
        assert (q1, s1, s2) == (0, True, False) and q2 > 0
    # its v1 projects that are not in v2 keep counting
    kept = mixed.q(f"select count(*), sum(quantity_issued) from marts.dim_projects where org_uid = "
                   f"'{both}' and data_model = 'v1' and not is_superseded "
                   "and project_record_status = 'current'")[0]
    assert kept[0] >= 1 and kept[1] > 0
    # the same serial blocks published twice are counted once: issued = v2 + non-superseded v1
    truth_v2 = sum(round(float(u["unitCount"] or 0)) for u in mixed.sim.truth("unit", model="v2")
                   if u["orgUid"] == both)
    shown = mixed.q(f"select sum(quantity_issued) filter (where data_model = 'v2'), "
                    f"sum(quantity_issued) filter (where data_model = 'v1' and is_superseded) "
                    f"from marts.fct_units where org_uid = '{both}'")[0]
    assert shown == (truth_v2, 0)
    assert mixed.q(f"select count(*) from marts.fct_credit_balances where org_uid = '{both}' "
                   "and data_model = 'v1' and project_key in (select warehouse_project_id "
                   "from marts.dim_projects where is_superseded)") == [(0,)]
    # and the double-counting candidates do not pair a project with its own v2 twin
    twins = {(a, b) for a, b, *_ in pairs} | {(b, a) for a, b, *_ in pairs}
    cands = set(mixed.q("select project_a_id, project_b_id from marts.mart_double_counting_candidates"))
    assert not twins & cands


def test_v2_retirement_date_is_the_unit_status_date(mixed):
    truth = {u["cadTrustUnitId"]: u for u in mixed.sim.truth("unit", model="v2")
             if str(u["unitStatus"] or "").strip().lower() in ("retired", "retirement")}
    rows = mixed.q("select warehouse_unit_id, cast(retired_at as date)::varchar, retired_at_source, "
                   "retirement_beneficiary, retirement_beneficiary_id from marts.fct_retirements "
                   "where data_model = 'v2'")
    assert len(rows) == len(truth) > 0
    for uid, day, source, beneficiary, beneficiary_id in rows:
        u = truth[uid]
        if u.get("unitStatusDate"):
            assert (day, source) == (str(u["unitStatusDate"])[:10], "unit_status_date")
        raw = u.get("unitRetirementBeneficiary")
        assert beneficiary is None or beneficiary == " ".join(str(raw).split())
        raw_id = u.get("unitRetirementBeneficiaryId")
        assert beneficiary_id == (" ".join(str(raw_id).split()) if raw_id else None)


def test_aef_marts_add_up(mixed):
    t2 = sum(float(r["aefT2AuthorizationsQuantity"])
             for r in mixed.sim.truth("aef_t2_authorizations", model="v2"))
    t3 = mixed.sim.truth("aef_t3_actions", model="v2")
    t4 = sum(float(r["aefT4HoldingsQuantityTCo2"])
             for r in mixed.sim.truth("aef_t4_holdings", model="v2"))
    by_type: dict[str, float] = {}
    for r in t3:
        by_type[r["aefT3ActionsType"]] = by_type.get(r["aefT3ActionsType"], 0) + float(
            r["aefT3ActionsQuantityTCo2"])
    got = mixed.q("select sum(quantity_authorized), sum(quantity_first_transferred), "
                  "sum(quantity_used), sum(quantity_cancelled), sum(quantity_held), "
                  "bool_and(is_reconciled), count(*) filter (where host_country_iso3 is null) "
                  "from marts.mart_article6_aef_approaches")[0]
    assert [float(x) for x in got[:5]] == [t2, by_type.get("First Transfer", 0),
                                          by_type.get("Use", 0), by_type.get("Cancellation", 0), t4]
    assert got[5] is True and got[6] == 0
    assert by_type.get("Use", 0) > 0
    # per country and vintage, each figure names its source; AEF totals match the approaches
    fig = dict(mixed.q("select source || ':' || figure, sum(quantity) "
                       "from marts.mart_article6_country_vintage group by 1"))
    assert float(fig["v2_aef_t2:authorized"]) == t2 and float(fig["v2_aef_t4:held"]) == t4
    assert {"v1_units:units_total", "v2_units:units_total", "v1_units:ca_committed"} <= set(fig)


def test_v2_statuses_use_the_canonical_vocabulary(mixed):
    statuses = dict(mixed.q("select unit_status_raw, any_value(unit_status) from marts.fct_units "
                            "where data_model = 'v2' group by 1"))
    assert statuses.get("Issued", "Held") == "Held" and statuses.get("retired", "Retired") == "Retired"
    assert set(statuses.values()) <= {"Held", "Retired", "Cancelled", "Expired", "Buffer", "Other"}
