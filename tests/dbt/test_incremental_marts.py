"""Incremental marts (dbt_project/macros/incremental.sql) equal a full rebuild, row for row.

The simulator goes through rounds of random activity (retirements, splits, deletions, edits,
new and removed organizations, an organization re-read in full); after each round's syncs the
warehouse is built incrementally; at the end a copy is rebuilt with `--full-refresh`, and every
table of the intermediate and marts schemas must be the same in both (one full rebuild only:
each dbt run costs seconds; the organization re-read in full, whose rows are all recomputed, is
the smallest, so it hides little of the first round). A last, hand-written sync makes the
changes the simulator does not: a split-off record retired on its own (its split parent
untouched), a retired record un-retired and retired again within one sync (its row unchanged:
only its history moves), a label that units carry deleted, an organization renamed and a
project location moved to another country.

A second story does the same over both data models: rounds of v2 activity (every v2 churn kind,
an organization upgrading to v2, a new v2 organization) mixed with v1 activity, both models
synced, built as `cadt-mirror build` builds (only what the round's syncs can have changed) and
compared with a full rebuild after every round.
"""

from __future__ import annotations

import json
import shutil
from collections import Counter
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from cadt_sim.activity_v2 import V2_CHURN_KINDS
from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import V2
from pipelines.sync import SyncSettings, run_sync
from pipelines.transform import run_dbt

pytestmark = pytest.mark.xdist_group("dbt")

def _dbt(db: Path, target: Path, *args: str) -> None:
    """`dbt build` of the models (and seeds); no tests: this test compares the models."""
    types = args or ("--resource-type", "model", "--resource-type", "seed")
    assert run_dbt(["build", *types], db, capture=True, target_path=target) == 0


def _build(db: Path, target: Path) -> list[str]:
    """A build as `cadt-mirror build` runs it (`run_build`: recorded in marts_builds, the lighter
    tests of a refresh, only what the syncs since the last build can have changed); the dbt
    arguments it ran with."""
    from rich.console import Console

    from pipelines.dbt_build import check_synced, dbt_build_args, refresh_args, run_build
    from pipelines.transform.fingerprint import project_digest

    args = dbt_build_args(extra=["--target-path", str(target)])
    ran = refresh_args(db, args, project_digest())
    outcome = run_build(db, args, Console(quiet=True), gens=check_synced(db))
    assert outcome.ok and outcome.skipped is None, outcome.line()
    return ran


def _sync(settings: SyncSettings, catalog=V1, **changes) -> str:
    report = run_sync(replace(settings, **changes), catalog=catalog)
    assert report.status == "success", report.error
    return report.sync_id


def _tables(con: duckdb.DuckDBPyConnection, catalog: str) -> list[str]:
    return [f"{s}.{t}" for s, t in con.execute(
        "SELECT schema_name, table_name FROM duckdb_tables() WHERE database_name = ? "
        "AND schema_name IN ('intermediate', 'marts') ORDER BY 1, 2", [catalog]).fetchall()]


def _differences_from_a_full_rebuild(db: Path, target: Path) -> dict[str, tuple[int, int]]:
    """Rebuild the marts in full and compare; the incremental warehouse is put back after.
    (The rebuild runs on the same path: dbt then parses the project only once.)"""
    incremental = db.with_name("incremental.duckdb")
    shutil.copy(db, incremental)
    _dbt(db, target, "--resource-type", "model", "--full-refresh")
    con = duckdb.connect()
    try:
        con.execute(f"ATTACH '{incremental}' AS inc (READ_ONLY)")
        con.execute(f"ATTACH '{db}' AS ful (READ_ONLY)")
        tables = _tables(con, "inc")
        assert tables == _tables(con, "ful") and len(tables) >= 15
        out = {}
        for t in tables:
            extra, missing = (con.execute(
                f"SELECT count(*) FROM (SELECT * FROM {a}.{t} EXCEPT ALL SELECT * FROM {b}.{t})"
            ).fetchone()[0] for a, b in (("inc", "ful"), ("ful", "inc")))
            if extra or missing:
                out[t] = (extra, missing)
        return out
    finally:
        con.close()
        incremental.replace(db)


def _last_refreshes(db: Path) -> dict[str, tuple[str, int]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return {m: (r, n) for m, r, n in con.execute(
            "SELECT model, arg_max(refresh, refreshed_at), arg_max(syncs, refreshed_at) "
            "FROM cadt_build.model_refreshes GROUP BY model").fetchall()}
    finally:
        con.close()


def _consumed(db: Path, model: str, sync_id: str) -> bool:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) > 0 FROM cadt_build.consumed_syncs "
                           "WHERE model = ? AND sync_id = ?", [model, sync_id]).fetchone()[0]
    finally:
        con.close()


def _syncs_since(db: Path, sync_id: str) -> int:
    """Sync runs after `sync_id`."""
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT count(*) FROM cadt_mirror.sync_runs WHERE started_at > "
                           "(SELECT started_at FROM cadt_mirror.sync_runs WHERE sync_id = ?)",
                           [sync_id]).fetchone()[0]
    finally:
        con.close()


HAND_SYNC = "20991231T235959Z-0000beef"


def _log(con: duckdb.DuckDBPyConnection, org: str, table: str, key: str | None, op: str,
         changed: dict | None, counts: tuple[int, int, int], sync_id: str = HAND_SYNC) -> None:
    """What a sync's commit logs for a change: the change log row and the table's counts."""
    if key is not None:
        con.execute("INSERT INTO cadt_mirror.record_changes VALUES (?, 'v1', ?, ?, ?, ?, ?, now())",
                    [sync_id, org, table, key, op, json.dumps(changed) if changed else None])
    con.execute("INSERT INTO cadt_mirror.sync_changes VALUES (?, 'v1', ?, ?, 'incremental', ?, ?, "
                "?, now())", [sync_id, org, table, *counts])


def _rename_by_hand(db: Path, org: str, sync_id: str) -> None:
    """A v1 sync that renames organization `org` in v1 (and changes nothing else)."""
    con = duckdb.connect(str(db))
    try:
        con.execute("INSERT INTO cadt_mirror.sync_runs (sync_id, catalog_version, started_at, "
                    "status) VALUES (?, 'v1', now(), 'success')", [sync_id])
        (name,) = con.execute("SELECT name FROM cadt_v1.organizations WHERE org_uid = ?",
                              [org]).fetchone()
        con.execute("UPDATE cadt_v1.organizations SET name = ? WHERE org_uid = ?",
                    ["Verra " + name, org])
        _log(con, "*", "organizations", org, "update", {"name": [name, "Verra " + name]},
             (0, 1, 0), sync_id)
    finally:
        con.close()


def _sync_by_hand(db: Path, org: str, renamed: str) -> dict[str, str]:
    """A sync written as the engine writes one (new audit generations, the changed rows, the
    change log and the counts). In organization `org` it retires a split-off unit (its split
    parent untouched), un-retires and re-retires a retired unit (its row unchanged), deletes a
    label that units carry, moves the location that gives a project's units their host country
    to another country and deletes a project with units; it renames organization `renamed`
    (whose rows are then all recomputed, hence another one). Returns the records it changed."""
    con = duckdb.connect(str(db))
    one = lambda sql, *params: con.execute(sql, list(params)).fetchone()  # noqa: E731
    try:
        con.execute("INSERT INTO cadt_mirror.sync_runs (sync_id, catalog_version, started_at, "
                    "status) VALUES (?, 'v1', now(), 'success')", [HAND_SYNC])
        (child,) = one(
            "SELECT u.warehouse_unit_id FROM cadt_v1.units u "
            "JOIN marts.fct_unit_status_events e USING (warehouse_unit_id, org_uid) "
            "WHERE e.event_type = 'split_off' AND u.unit_status = 'Held' AND u.org_uid = ? "
            "ORDER BY 1 LIMIT 1", org)
        (again,) = one(
            "SELECT warehouse_unit_id FROM marts.fct_retirements "
            "WHERE retired_at_source = 'audit_history' AND warehouse_unit_id <> ? "
            "AND org_uid = ? ORDER BY 1 LIMIT 1", child, org)
        for unit, statuses in ((child, ["Retired"]), (again, ["Held", "Retired"])):
            (last,) = one("SELECT id FROM cadt_v1.audit WHERE org_uid = ? AND type = 'INSERT' "
                          "AND json_extract_string(change, '$.warehouseUnitId') = ? "
                          "ORDER BY generation DESC LIMIT 1", org, unit)
            for new_status in statuses:
                con.execute(
                    "INSERT INTO cadt_v1.audit SELECT * REPLACE ("
                    " (SELECT max(id) + 1 FROM cadt_v1.audit) AS id,"
                    " json_merge_patch(change, json_object('unitStatus', ?))::VARCHAR AS change,"
                    " (SELECT max(onchain_confirmation_time_stamp) FROM cadt_v1.audit)"
                    "   + INTERVAL 1 DAY AS onchain_confirmation_time_stamp,"
                    " (SELECT max(generation) + 1 FROM cadt_v1.audit WHERE org_uid = ?)"
                    "   AS generation,"
                    " now() AS _synced_at, ? AS _sync_id"
                    ") FROM cadt_v1.audit WHERE id = ?", [new_status, org, HAND_SYNC, last])
            _log(con, org, "audit", None, "insert", None, (len(statuses), 0, 0))
        con.execute("UPDATE cadt_v1.units SET unit_status = 'Retired' WHERE warehouse_unit_id = ?",
                    [child])
        _log(con, org, "units", child, "update", {"unit_status": ["Held", "Retired"]}, (0, 1, 0))

        label, label_project = one(
            "SELECT l.id, l.warehouse_project_id FROM cadt_v1.labels l "
            "JOIN cadt_v1.unit_labels ul ON ul.label_id = l.id "
            "JOIN cadt_v1.units u ON u.warehouse_unit_id = ul.warehouse_unit_id "
            "WHERE l.org_uid = ? ORDER BY 1 LIMIT 1", org)
        con.execute("DELETE FROM cadt_v1.labels WHERE id = ?", [label])
        _log(con, org, "labels", label, "delete",
             {"id": label, "warehouse_project_id": label_project, "org_uid": org}, (0, 0, 1))

        (name,) = one("SELECT name FROM cadt_v1.organizations WHERE org_uid = ?", renamed)
        con.execute("UPDATE cadt_v1.organizations SET name = name || ' (renamed)' "
                    "WHERE org_uid = ?", [renamed])
        _log(con, "*", "organizations", renamed, "update",
             {"name": [name, name + " (renamed)"]}, (0, 1, 0))

        # the location that gives its project's units their host country
        location, country = one(
            "WITH first_located AS (SELECT first(project_location_id ORDER BY created_at NULLS "
            "LAST, project_location_id) AS id FROM intermediate.int_project_locations_harmonised "
            "WHERE country_iso3 IS NOT NULL GROUP BY warehouse_project_id) "
            "SELECT l.id, l.country FROM cadt_v1.project_locations l "
            "SEMI JOIN first_located USING (id) "
            "JOIN cadt_v1.issuances i USING (warehouse_project_id) "
            "JOIN cadt_v1.units u ON u.issuance_id = i.id AND u.project_location_id IS NULL "
            "WHERE l.org_uid = ? ORDER BY 1 LIMIT 1", org)
        moved = "Kenya" if country != "Kenya" else "Peru"
        con.execute("UPDATE cadt_v1.project_locations SET country = ? WHERE id = ?",
                    [moved, location])
        _log(con, org, "project_locations", location, "update",
             {"country": [country, moved]}, (0, 1, 0))

        (project,) = one(  # a project with units, deleted (its issuances and units stay)
            "SELECT p.warehouse_project_id FROM cadt_v1.projects p "
            "JOIN cadt_v1.issuances i USING (warehouse_project_id) "
            "JOIN cadt_v1.units u ON u.issuance_id = i.id "
            "WHERE p.org_uid = ? AND p.warehouse_project_id NOT IN (?, "
            " (SELECT warehouse_project_id FROM cadt_v1.project_locations WHERE id = ?)) "
            "GROUP BY 1 HAVING NOT bool_or(u.warehouse_unit_id IN (?, ?) OR u.warehouse_unit_id "
            " IN (SELECT warehouse_unit_id FROM cadt_v1.unit_labels WHERE label_id = ?)) "
            "ORDER BY 1 LIMIT 1", org, label_project, location, child, again, label)
        con.execute("DELETE FROM cadt_v1.projects WHERE warehouse_project_id = ?", [project])
        _log(con, org, "projects", project, "delete",
             {"warehouse_project_id": project, "org_uid": org}, (0, 0, 1))
        return {"child": child, "again": again, "label": label, "renamed": renamed,
                "project": project}
    finally:
        con.close()


def test_incremental_marts_equal_a_full_rebuild_after_rounds_of_activity(tmp_path):
    db, target = tmp_path / "cadt.duckdb", tmp_path / "target"
    with Simulator(seed=3, scale=1) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=db, max_retries=8,
                                publish=False)
        _sync(settings)
        _dbt(db, target)
        models = set(_last_refreshes(db))  # every incremental model, built from scratch
        assert {"int_units_enriched", "fct_units", "fct_retirements", "search_index",
                "mart_changes"} <= models
        assert {r for r, _ in _last_refreshes(db).values()} == {"full"}

        # one sync of everyday activity
        sim.random_activity(rng_seed=41, rounds=4)
        for kind in ("retire", "split", "cancel", "delete_units", "delete_projects",
                     "edit_projects", "edit_units", "add_children", "remove_children",
                     "issue_units"):
            sim.activity(kind, count=2)
        first = _sync(settings)
        # fct_units alone: int_units_enriched has not taken the sync in, so neither may it
        _dbt(db, target, "--resource-type", "model", "--select", "fct_units")
        assert _consumed(db, "fct_units", first) is False
        _dbt(db, target, "--resource-type", "model")
        assert _consumed(db, "fct_units", first) is True
        assert _last_refreshes(db) == {m: ("incremental", 1) for m in models}

        # four syncs, one build: a new organization, one removed, one re-read in full, and
        # the history-only changes
        sim.activity("new_org")
        sim.random_activity(rng_seed=42, rounds=3)
        for kind in ("retire", "split", "issue_units"):
            sim.activity(kind, count=2)
        _sync(settings)
        sim.activity("remove_org")
        _sync(settings)
        # the smallest organization, re-read in full: all its rows are recomputed, which hides
        # what changed in it; the hand-written changes go to the largest (one renamed: the rest)
        sizes = Counter(u["orgUid"] for u in sim.truth("units"))
        by_size = sorted(sizes, key=lambda org: (sizes[org], org))
        _sync(settings, full_refresh=True, orgs=(by_size[0],))
    assert len(by_size) >= 3
    hand = _sync_by_hand(db, org=by_size[-1], renamed=by_size[1])
    _dbt(db, target, "--resource-type", "model")
    assert _last_refreshes(db) == {m: ("incremental", _syncs_since(db, first)) for m in models}
    assert _syncs_since(db, first) == 4  # one build took in several syncs
    assert _differences_from_a_full_rebuild(db, target) == {}

    con = duckdb.connect(str(db), read_only=True)
    one = lambda sql, *params: con.execute(sql, list(params)).fetchone()[0]  # noqa: E731
    try:  # the hand-written changes did reach the marts
        assert one("SELECT list(event_type ORDER BY generation) FROM marts.fct_unit_status_events "
                   "WHERE warehouse_unit_id = ? AND event_source = 'audit'",
                   hand["child"])[0] == "split_off"
        assert one("SELECT count(*) FROM marts.fct_retirements WHERE warehouse_unit_id IN (?, ?)",
                   hand["child"], hand["again"]) == 2
        assert one("SELECT count(*) FROM marts.search_index WHERE doc_type = 'unit' AND "
                   "org_uid = ? AND organization_name LIKE '% (renamed)'", hand["renamed"]) > 0
        assert one("SELECT count(*) FROM marts.fct_units WHERE warehouse_project_id = ? AND "
                   "project_record_status = 'deleted'", hand["project"]) > 0
        assert one("SELECT count(*) FROM cadt_build.consumed_syncs WHERE sync_id = ?",
                   HAND_SYNC) == len(models)
    finally:
        con.close()


def test_incremental_marts_equal_a_full_rebuild_after_rounds_of_v2_activity(tmp_path):
    """Both data models: after every round (v2 churn, v1 churn, an upgrade to v2, a new v2
    organization) and the syncs of both models, the incremental marts equal a full rebuild."""
    db, target = tmp_path / "cadt.duckdb", tmp_path / "target"
    rounds = [
        # every v2 churn kind and a little v1 activity beside it; an organization republishes
        # its v1 projects in v2 (its v1 rows become superseded); a new v2-only organization
        [(kind, 2) for kind in V2_CHURN_KINDS] + [("retire", 2), ("edit_projects", 1),
                                                  ("upgrade", 2), ("v2_new_org", 1)],
        # v1 only: v2 unchanged, the v2 rows must stay as they are (and, below, an organization
        # publishing both models renamed in v1)
        [("retire", 3), ("split", 2), ("edit_units", 2), ("delete_projects", 1),
         ("issue_units", 2)],
    ]
    with Simulator(seed=21, scale=1, v2=True) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=db, max_retries=8,
                                publish=False)
        for catalog in (V1, V2):
            _sync(settings, catalog=catalog)
        _build(db, target)
        models = set(_last_refreshes(db))
        con = duckdb.connect(str(db), read_only=True)
        (both,) = con.execute("SELECT org_uid FROM cadt_v1.organizations SEMI JOIN "
                              "cadt_v2.organizations USING (org_uid) ORDER BY 1 LIMIT 1"
                              ).fetchone()
        con.close()
        # an organization publishing both models renamed in v1 (what the v2 rows show of it,
        # its name and registry, comes from its v1 entry), then its v1 store removed (its v2
        # rows then show its v2 entry's)
        rounds[-1].append(("rename", both))
        rounds.append([("remove_org", both)])
        rounds.append([("edit_projects", 2)])  # v1 projects alone: the rest is left out
        for number, activity in enumerate(rounds, 1):
            syncs = 2
            for kind, count in activity:
                if kind == "remove_org":
                    sim.activity(kind, org=count)
                elif kind != "rename":
                    sim.activity(kind, count=count)
            if number == 1:
                sim.random_activity(rng_seed=43, rounds=2, kinds=["v2"])
            for catalog in (V1, V2):
                _sync(settings, catalog=catalog)
            if ("rename", both) in activity:  # after the syncs: a third one, v1 only
                _rename_by_hand(db, both, "20991231T235958Z-0000cafe")
                syncs = 3
            ran = _build(db, target)
            if number in (2, 4):  # v2 unchanged: dbt is told to build what v1 changed only
                assert "--select" in ran and not any("cadt_v2" in a for a in ran), ran
            assert _last_refreshes(db) == {m: ("incremental", syncs) for m in models}, number
            assert _differences_from_a_full_rebuild(db, target) == {}, number
    con = duckdb.connect(str(db), read_only=True)
    try:  # the story reached the marts: superseded v1 records, v2 records of several orgs
        assert con.execute("SELECT count(*) FROM marts.fct_units WHERE is_superseded"
                           ).fetchone()[0] > 0
        assert con.execute("SELECT count(DISTINCT org_uid) FROM marts.fct_units "
                           "WHERE data_model = 'v2'").fetchone()[0] >= 3
    finally:
        con.close()
