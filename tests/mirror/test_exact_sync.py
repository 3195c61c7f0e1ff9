"""The mirror equals the source: after a full sync, after every kind of change, and cheaply."""

from __future__ import annotations

import random
from dataclasses import replace

import duckdb

from pipelines.source.catalog_v1 import CURRENT_STATE_TABLES, V1
from pipelines.sync import run_sync
from pipelines.warehouse.db import connect
from tests.support.truth import diff


def _checksums(db) -> dict[str, tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t.name: con.execute(
            f"SELECT count(*), sum(hash(COLUMNS(* EXCLUDE (_synced_at, _sync_id)))) "
            f"FROM {V1.qualified(t.name)}").fetchall()[0] for t in V1.tables}
    finally:
        con.close()


def test_full_sync_equals_ground_truth(sim, settings):
    report = run_sync(settings)
    assert report.status == "success", report.error
    assert {o.mode for o in report.orgs} == {"snapshot"}
    assert diff(sim, settings.database) == {}
    con = duckdb.connect(str(settings.database), read_only=True)
    n_units = con.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0]
    assert n_units == len(sim.truth("units")) > 500  # the comparison compared something real
    # a first snapshot reports every row it landed as inserted, per organization and table
    landed = {(org, t): n for t in (*CURRENT_STATE_TABLES, "audit") for org, n in con.execute(
        f"SELECT org_uid, count(*) FROM {V1.qualified(t)} GROUP BY org_uid").fetchall()}
    reported = {(o.org_uid, t): c for o in report.orgs for t, c in o.changes.items()}
    assert reported == {k: (n, 0, 0) for k, n in landed.items()}


def test_the_feeds_documents_are_stored_compressed(tmp_path):
    """The audit feed's `change` values (whole records as JSON) are most of a warehouse's
    bytes; with DuckDB's defaults they stay uncompressed, on the warehouse's connection
    (`pipelines.warehouse.db.connect`) they are zstd-compressed."""
    # unit-like records, one in a thousand very long (as the feed's project values can be):
    # such a segment is what DuckDB's string compressions give up on
    records = ("SELECT i AS id, json_object('unitOwner', 'Owner ' || (i % 50), "
               "'warehouseUnitId', uuid()::VARCHAR, 'issuanceId', uuid()::VARCHAR, "
               "'orgUid', md5((i % 12)::VARCHAR), "
               "'serialNumberBlock', 'REG-' || i || '-2018-1-REG-' || i || '-2018-1000', "
               "'unitCount', i, 'unitStatusReason', "
               "CASE WHEN i % 1000 = 0 THEN repeat(md5(i::VARCHAR), 600) END)::VARCHAR AS change "
               "FROM range(150000) t(i)")
    stored = {}
    for name, open_ in (("default", lambda p: duckdb.connect(str(p))), ("warehouse", connect)):
        path = tmp_path / f"{name}.duckdb"
        con = open_(path)
        con.execute(f"CREATE TABLE audit AS {records}")
        con.execute("CHECKPOINT")
        stored[name] = {r[0] for r in con.execute(
            "SELECT compression FROM pragma_storage_info('audit') "
            "WHERE column_name = 'change' AND segment_type = 'VARCHAR'").fetchall()}
        con.close()
    assert stored == {"default": {"Uncompressed"}, "warehouse": {"ZSTD"}}, stored


def test_no_change_sync_costs_two_requests_and_changes_nothing(sim, settings):
    assert run_sync(settings).status == "success"
    before = _checksums(settings.database)
    sim.reset_stats()
    report = run_sync(settings)
    assert report.status == "success"
    assert sim.stats()["total"] <= 2
    assert report.requests <= 2
    assert all(o.mode == "unchanged" for o in report.orgs)
    assert _checksums(settings.database) == before


def test_each_kind_of_change_is_applied_incrementally(sim, settings):
    assert run_sync(settings).status == "success"
    for kind in ("retire", "cancel", "split", "edit_projects", "edit_units", "add_children",
                 "remove_children", "delete_projects", "delete_units", "new_projects",
                 "issue_units"):
        sim.activity(kind, count=2)
        report = run_sync(settings)
        assert report.status == "success", (kind, report.error)
        modes = {o.mode for o in report.orgs}
        assert "snapshot" not in modes, (kind, [(o.mode, o.reason) for o in report.orgs])
        assert "incremental" in modes, kind
        assert diff(sim, settings.database) == {}, kind


def test_twenty_rounds_of_random_activity_stay_exact(sim, settings):
    """Inserts, edits, retirements, splits, deletions, new/removed orgs and audit resets."""
    checked = replace(settings, verify=True)  # audit resets keep registryHash: check the tail
    assert run_sync(checked).status == "success"
    rng = random.Random(20261125)
    kinds = ["new_projects", "issue_units", "retire", "cancel", "split", "edit_projects",
             "edit_units", "add_children", "remove_children", "delete_projects", "delete_units"]
    seen = set()
    for round_no in range(22):
        round_kinds = rng.sample(kinds, 3)
        if round_no == 7:
            round_kinds.append("new_org")
        if round_no == 12:
            round_kinds.append("audit_reset")
        if round_no == 17:
            round_kinds.append("remove_org")
        for kind in round_kinds:
            sim.activity(kind, count=rng.randint(1, 4))
            seen.add(kind)
        report = run_sync(checked)
        assert report.status == "success", (round_no, report.error)
        assert diff(sim, checked.database) == {}, (round_no, round_kinds)
    assert {"audit_reset", "new_org", "remove_org", "split", "delete_projects"} <= seen


def test_deleted_project_leaves_its_children_like_the_source(sim, settings):
    assert run_sync(settings).status == "success"
    sim.activity("delete_projects", count=2)
    assert run_sync(settings).status == "success"
    assert diff(sim, settings.database) == {}
    con = duckdb.connect(str(settings.database), read_only=True)
    orphans = con.execute(
        "SELECT count(*) FROM cadt_v1.project_locations l WHERE NOT EXISTS "
        "(SELECT 1 FROM cadt_v1.projects p WHERE p.warehouse_project_id = l.warehouse_project_id)"
    ).fetchall()[0][0]
    assert orphans > 0


def test_full_refresh_of_one_org_rebuilds_it_from_the_audit_and_the_api(sim, settings):
    assert run_sync(settings).status == "success"
    sim.activity("delete_projects", count=2)  # orphans exist only in the audit from now on
    org = sorted(o["orgUid"] for o in sim.truth("organizations"))[0]
    report = run_sync(replace(settings, full_refresh=True, orgs=(org,)))
    assert report.status == "success"
    assert [o.mode for o in report.orgs] == ["snapshot"]
    assert run_sync(settings).status == "success"
    assert diff(sim, settings.database) == {}
