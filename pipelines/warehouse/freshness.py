"""How fresh each organization's rows are: when a sync last confirmed them, and last changed them.

`sync_state.synced_at` moves only when an organization changes, so a quiet organization synced a
minute ago would look days old by it. Its real lag is the time since the last *successful* sync
that covered it (a run `success`, or `partial` where it did not fail), read from the runs'
summaries. `status`, the report and the published metadata all read it from here.

One entry per organization and data model: an organization with a v1 store and a v2 store (an
upgraded registry keeps its orgUid) has two, each with its own generation, lag and rows (v1:
`cadt_v1.projects` / `units`; v2: `cadt_v2.project` / `unit`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

# per data model: its schema, and its project and unit tables
MODELS = {"v1": ("cadt_v1", "projects", "units"), "v2": ("cadt_v2", "project", "unit")}


@dataclass(frozen=True)
class OrgFreshness:
    org_uid: str
    name: str | None
    generation: int
    registry_hash: str | None
    last_success: datetime | None  # the last sync that found it current (or made it so)
    last_change: datetime | None  # the last sync that changed it (a new generation)
    projects: int
    units: int
    audit_rows: int
    landed_hash: str | None  # the hash its organizations row shows (differs if it failed)
    data_model: str = "v1"  # v1 / v2: which of the organization's stores this entry is


def _schemas(con: duckdb.DuckDBPyConnection) -> set[str]:
    return {r[0] for r in con.execute(
        "SELECT DISTINCT schema_name FROM duckdb_tables() WHERE database_name = "
        "current_database()").fetchall()}


def freshness(con: duckdb.DuckDBPyConnection) -> list[OrgFreshness]:
    """Every organization the warehouse holds, by name, v1 before v2 for the same one."""
    have = _schemas(con)
    parts = []
    for model, (schema, projects, units) in MODELS.items():
        if schema not in have:
            continue
        parts.append(f"""
        SELECT s.org_uid, o.name, s.generation, s.registry_hash, ok.at, s.synced_at,
               (SELECT count(*) FROM {schema}.{projects} p WHERE p.org_uid = s.org_uid),
               (SELECT count(*) FROM {schema}.{units} u WHERE u.org_uid = s.org_uid),
               s.audit_rows, o.registry_hash, '{model}' AS data_model
        FROM cadt_mirror.sync_state s
        LEFT JOIN {schema}.organizations o USING (org_uid)
        LEFT JOIN ok ON ok.catalog_version = s.catalog_version AND ok.org_uid = s.org_uid
        WHERE s.catalog_version = '{model}'""")
    if not parts:
        return []
    rows = con.execute(
        """
        WITH ok AS (
            SELECT r.catalog_version, k.key AS org_uid, max(r.finished_at) AS at
            FROM cadt_mirror.sync_runs r, json_each(r.summary -> '$.orgs') k
            WHERE r.status IN ('success', 'partial')
              AND coalesce(k.value ->> '$.mode', '') <> 'failed'
            GROUP BY 1, 2
        )
        SELECT * FROM (""" + " UNION ALL ".join(parts) + """)
        ORDER BY 2 NULLS LAST, 1, data_model
        """).fetchall()
    return [OrgFreshness(*r) for r in rows]
