"""Sync the simulator, let it run rounds of activity, sync again, `dbt build`, and compare the
marts with the simulator's ground truth (counted here in plain Python, not with our SQL)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import duckdb
import pytest

from pipelines.sync import run_sync
from pipelines.transform import build

pytestmark = pytest.mark.xdist_group("dbt")

# Independent of the dbt macro on purpose: the folding the counting rules document.
_RETIRED = {"retired", "retirement"}


def _is_retired(status: object) -> bool:
    return isinstance(status, str) and " ".join(status.lower().split()) in _RETIRED


def test_marts_match_simulator_truth_after_activity(sim, settings, tmp_path: Path):
    assert run_sync(settings).status == "success"
    sim.random_activity(rng_seed=5, rounds=6)
    assert run_sync(settings).status == "success"
    assert build(settings.database, target_path=tmp_path / "target") == 0

    units = sim.truth("units")
    issuance_ids = {i["id"] for i in sim.truth("issuances")}
    projects = sim.truth("projects")
    count = Counter()
    for u in units:
        n = int(u.get("unitCount") or 0)
        count["all"] += n
        if u.get("issuanceId") in issuance_ids:
            count["with_issuance"] += n
        if _is_retired(u.get("unitStatus")):
            count["retired"] += n
            count["retired_records"] += 1

    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        assert one("select sum(quantity) from marts.fct_credit_balances") == count["all"]
        assert one("select sum(quantity_issued) from marts.fct_issuances") == count["with_issuance"]
        assert (
            one("select coalesce(sum(quantity), 0) from marts.fct_retirements") == count["retired"]
        )
        assert one("select count(*) from marts.fct_retirements") == count["retired_records"]
        assert one("select count(*) from marts.dim_projects") == len(projects)
        assert one("select count(*) from marts.mart_article6_units") == len(units)
        # the simulator publishes full history: every retirement date comes from the audit
        sources = dict(
            con.execute(
                "select retired_at_source, count(*) from marts.fct_retirements group by 1"
            ).fetchall()
        )
        assert set(sources) <= {"audit_history", "audit_split_parent"}, sources
    finally:
        con.close()
