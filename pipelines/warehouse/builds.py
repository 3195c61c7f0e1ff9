"""Which dbt build made the marts a warehouse holds, so a publish can tell whether they belong
to the raw tables beside them.

DuckDB keeps no creation time for tables, and a mart built before the last sync looks just like
one built after it. So `cadt-mirror build` records every build it runs in
`cadt_mirror.marts_builds`, and the marts count as of the current refresh only when the last
complete, successful build started after a sync last changed a raw table and no build failed
since (a failed build leaves some models rebuilt and others not). Dagster knows its builds from
its own event log and says so itself (`pipelines/defs/serving.py`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

BUILDS = "cadt_mirror.marts_builds"
_DDL = f"""
CREATE TABLE IF NOT EXISTS {BUILDS} (
    invocation_id VARCHAR, started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR,
    selection VARCHAR, dbt_args VARCHAR, generations JSON, project_digest VARCHAR
)"""
# (a warehouse from before the digest: its builds have none, so none of them counts as unchanged)
_MIGRATE = f"ALTER TABLE {BUILDS} ADD COLUMN IF NOT EXISTS project_digest VARCHAR"


@dataclass(frozen=True)
class MartsBuild:
    """The dbt build the marts of a snapshot come from."""

    invocation_id: str | None
    started_at: datetime  # it read the raw tables as they were then
    finished_at: datetime | None
    by: str  # "cadt-mirror build", "dagster run <id>"

    def describe(self) -> str:
        return (f"dbt invocation {self.invocation_id or 'unknown'} ({self.by}), started "
                f"{self.started_at.isoformat(timespec='seconds')}")


def generations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Each organization's generation, as the sync state has it (`v2:<org>` for the v2
    data model's)."""
    return dict(con.execute(
        "SELECT CASE WHEN catalog_version = 'v1' THEN org_uid "
        "ELSE catalog_version || ':' || org_uid END, generation "
        "FROM cadt_mirror.sync_state ORDER BY 1").fetchall())


def raw_changed_at(con: duckdb.DuckDBPyConnection) -> datetime | None:
    """When a sync last changed a raw table (None: never)."""
    return con.execute("SELECT max(recorded_at) FROM cadt_mirror.sync_changes").fetchall()[0][0]


def record_build(con: duckdb.DuckDBPyConnection, *, invocation_id: str | None,
                 started_at: datetime, finished_at: datetime, ok: bool,
                 selection: str | None, dbt_args: list[str],
                 gens: dict[str, int], project_digest: str | None = None) -> None:
    """One row per build; `selection` None means the whole project was built;
    `project_digest`: `pipelines.transform.fingerprint.project_digest()` as the build ran."""
    con.execute(_DDL)
    con.execute(_MIGRATE)
    con.execute(f"INSERT INTO {BUILDS} (invocation_id, started_at, finished_at, status, "
                "selection, dbt_args, generations, project_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [invocation_id, started_at, finished_at, "success" if ok else "error", selection,
                 json.dumps(dbt_args), json.dumps(gens), project_digest])


def _last_complete_build(con: duckdb.DuckDBPyConnection) -> MartsBuild | None:
    """The last successful build of the whole project, unless a build failed after it (the
    marts are then partly of that failed build)."""
    try:
        rows = con.execute(
            f"SELECT invocation_id, started_at, finished_at, status, selection FROM {BUILDS} "
            "ORDER BY started_at DESC").fetchall()
    except duckdb.CatalogException:  # no build recorded yet
        return None
    for invocation_id, started_at, finished_at, status, selection in rows:
        if status != "success":
            return None
        if selection is None:
            return MartsBuild(invocation_id, started_at, finished_at, "cadt-mirror build")
    return None


def current_build(con: duckdb.DuckDBPyConnection) -> MartsBuild | None:
    """The build the marts are of, when they belong to the raw tables as they are now."""
    build = _last_complete_build(con)
    if build is None:
        return None
    changed = raw_changed_at(con)
    return None if changed is not None and build.started_at < changed else build


def _same_project(con: duckdb.DuckDBPyConnection, build: MartsBuild, dbt_args: list[str],
                  project_digest: str) -> bool:
    """`build` ran the project `project_digest` with `dbt_args` (apart from a --full-refresh)."""
    try:
        row = con.execute(f"SELECT dbt_args, project_digest FROM {BUILDS} WHERE started_at = ? "
                          "AND invocation_id IS NOT DISTINCT FROM ? AND selection IS NULL "
                          "AND status = 'success'", [build.started_at, build.invocation_id]
                          ).fetchone()
    except duckdb.BinderException:  # recorded before builds had a digest
        return False
    if row is None or row[1] != project_digest:
        return False
    return [a for a in json.loads(row[0]) if a != "--full-refresh"] == list(dbt_args)


def since_last_build(con: duckdb.DuckDBPyConnection, dbt_args: list[str], project_digest: str,
                     schemas: dict[str, str]) -> tuple[MartsBuild, set[tuple[str, str]]] | None:
    """The last complete build and the raw tables, as (schema, table), that syncs wrote to since
    it started, when that build ran the same project with the same arguments (what else the
    marts hold is as that build left it: no table written means there is nothing to build);
    None when that cannot be said. Written: a row stamped `_synced_at` since (also a row
    written again with the same values, whose `_source` may have changed) or a change in the
    counts, deletes included (`schemas`: data model -> its schema)."""
    build = _last_complete_build(con)
    if build is None or not _same_project(con, build, dbt_args, project_digest):
        return None
    since = build.started_at
    changed = {(schemas.get(m or "v1", ""), t) for m, t in con.execute(
        "SELECT DISTINCT catalog_version, table_name FROM cadt_mirror.sync_changes "
        "WHERE recorded_at >= ? AND (inserted > 0 OR updated > 0 OR deleted > 0)",
        [since]).fetchall()}
    stamped = con.execute(
        "SELECT table_schema, table_name FROM information_schema.columns "
        "WHERE table_catalog = current_database() AND column_name = '_synced_at' "
        "AND table_schema IN (SELECT unnest(?))", [sorted(set(schemas.values()))]).fetchall()
    for schema, table in stamped:  # (rows are appended in time order: min/max skip the rest)
        if (schema, table) not in changed and con.execute(
                f'SELECT count(*) > 0 FROM "{schema}"."{table}" WHERE _synced_at >= ?',
                [since]).fetchone()[0]:
            changed.add((schema, table))
    return build, changed
