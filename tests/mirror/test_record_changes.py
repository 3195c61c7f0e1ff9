"""Every sync logs which records it changed (cadt_mirror.record_changes), exactly."""

from __future__ import annotations

import duckdb

from pipelines.source.catalog_v1 import V1
from pipelines.sync import run_sync
from tests.support.truth import diff, truth_rows


def _truth(sim) -> dict[tuple[str, tuple], tuple]:
    out = {}
    for table in V1.current_state:
        n = len(table.primary_key)
        for row in truth_rows(sim, table):
            out[(table.name, row[:n])] = row
    return out


def _logged(database, sync_id: str) -> dict[tuple[str, str], str]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        rows = con.execute("SELECT table_name, record_key, op FROM cadt_mirror.record_changes "
                           "WHERE sync_id = ? AND table_name NOT IN ('organizations', "
                           "'pick_lists')", [sync_id]).fetchall()
    finally:
        con.close()
    assert len(rows) == len({(t, k) for t, k, _ in rows}), "a record logged twice in one sync"
    return {(t, k): op for t, k, op in rows}


def test_the_change_log_lists_exactly_the_records_that_changed(sim, settings):
    assert run_sync(settings).status == "success"
    seen: set[str] = set()
    for round_ in range(4):
        before = _truth(sim)
        sim.random_activity(rng_seed=100 + round_, rounds=3)
        sim.activity("delete_units", count=2)
        sim.activity("remove_children", count=1)
        sim.activity("retire", count=2)
        after = _truth(sim)
        report = run_sync(settings)
        assert report.status == "success", report.error
        assert diff(sim, settings.database) == {}
        want = {}
        for key in before.keys() | after.keys():
            if key not in before:
                want[key] = "insert"
            elif key not in after:
                want[key] = "delete"
            elif before[key] != after[key]:
                want[key] = "update"
        got = {(t, (k,)): op for (t, k), op in _logged(settings.database, report.sync_id).items()}
        assert got == want
        seen |= set(got.values())
    assert seen == {"insert", "update", "delete"}


def test_an_update_logs_before_and_after_of_the_changed_columns_only(sim, settings):
    assert run_sync(settings).status == "success"
    org = sorted(sim.ledger.orgs)[0]
    sim.activity("retire", count=1, org=org)
    report = run_sync(settings)
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        (changed,) = con.execute(
            "SELECT changed FROM cadt_mirror.record_changes WHERE sync_id = ? AND op = 'update' "
            "AND table_name = 'units'", [report.sync_id]).fetchall()[0]
    finally:
        con.close()
    import json

    cols = json.loads(changed)  # (the retirement also rewrote the reason)
    assert set(cols) == {"unit_status", "unit_status_reason"}
    assert cols["unit_status"] == ["Held", "Retired"]


def test_the_change_log_keeps_its_rows_for_the_configured_days(sim, settings):
    from dataclasses import replace

    assert run_sync(settings).status == "success"
    con = duckdb.connect(str(settings.database))
    try:
        con.execute("UPDATE cadt_mirror.record_changes SET recorded_at = now() - INTERVAL 3 DAY")
        kept = con.execute("SELECT count(*) FROM cadt_mirror.record_changes").fetchall()[0][0]
    finally:
        con.close()
    assert kept > 0
    sim.activity("retire", count=1)
    assert run_sync(replace(settings, changes_keep_days=5)).status == "success"
    assert run_sync(replace(settings, changes_keep_days=2)).status == "success"
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        old = con.execute("SELECT count(*) FROM cadt_mirror.record_changes "
                          "WHERE recorded_at < now() - INTERVAL 2 DAY").fetchall()[0][0]
        new = con.execute("SELECT count(*) FROM cadt_mirror.record_changes").fetchall()[0][0]
    finally:
        con.close()
    assert old == 0 and new > 0  # the 3-day-old rows went at 2 days, the retirement stayed
