"""Data model v2: the node's v2 tables, feeds and organizations land exactly as the node holds
them, through the same engine (catalogue `V2`, partitioned by node). Changes after the first
sync: test_v2_incremental.py."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadt_sim import Simulator
from pipelines.source.catalog_v2 import V2
from pipelines.sync import SyncSettings, run_sync
from tests.support.truth import diff


@pytest.fixture(params=["number", "string"])
def sim_v2(request) -> Iterator[Simulator]:
    """v1-only, v2-only and mixed organizations; decimals as numbers (SQLite-backed nodes) or
    strings (MySQL-backed nodes)."""
    with Simulator(seed=21, scale=1, v2=True, v2_decimals=request.param) as s:
        yield s


def _settings(sim: Simulator, tmp_path: Path) -> SyncSettings:
    return SyncSettings(api_url=sim.url + "/api/v1", database=tmp_path / "m.duckdb")


def _synced(settings: SyncSettings):
    report = run_sync(settings, catalog=V2)
    assert report.status == "success", report.error
    return report


def test_full_v2_sync_equals_the_nodes_v2_tables(sim_v2, tmp_path):
    settings = _settings(sim_v2, tmp_path)
    report = _synced(settings)
    assert diff(sim_v2, settings.database, catalog=V2) == {}
    landed = dict(report.changes_by_table())
    assert landed["unit"][0] == len(sim_v2.truth("unit", model="v2")) > 50
    assert landed["aef_t3_actions"][0] > 0 and landed["audit"][0] > 0
    again = _synced(settings)  # nothing moved: no table is read again
    assert {o.mode for o in again.orgs} == {"unchanged"}


def test_legacy_spellings_land_in_the_current_columns(tmp_path):
    """Old on-chain values spell `…_coopoerative_approach_id`; the node serves them under the
    current name, and so does the mirror (the feed itself is kept verbatim)."""
    import duckdb

    with Simulator(seed=5, scale=1, v2=True) as sim:
        settings = _settings(sim, tmp_path)
        _synced(settings)
        assert diff(sim, settings.database, catalog=V2) == {}
        con = duckdb.connect(str(settings.database), read_only=True)
        try:
            cols = {r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = "
                "'cadt_v2' AND table_name IN ('aef_t3_actions', 'aef_t4_holdings')").fetchall()}
            legacy_in_feed = con.execute(
                "SELECT count(*) FROM cadt_v2.audit WHERE change LIKE '%coopoerative%'"
            ).fetchall()[0][0]
            filled = con.execute("SELECT count(aef_t3_actions_cooperative_approach_id), count(*) "
                                 "FROM cadt_v2.aef_t3_actions").fetchall()[0]
        finally:
            con.close()
        assert not any("coopoerative" in c for c in cols)
        assert legacy_in_feed > 0  # the simulator does publish old spellings
        assert filled[0] == filled[1] > 0
