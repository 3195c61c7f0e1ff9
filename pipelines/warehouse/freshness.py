"""How fresh each organization's rows are: when a sync last confirmed them, and last changed them.

`sync_state.synced_at` moves only when an organization changes, so a quiet organization synced a
minute ago would look days old by it. Its real lag is the time since the last *successful* sync
that covered it (a run `success`, or `partial` where it did not fail), read from the runs'
summaries. `status`, the report and the published metadata all read it from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb


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


def freshness(con: duckdb.DuckDBPyConnection) -> list[OrgFreshness]:
    """Every organization the warehouse holds, by name."""
    rows = con.execute(
        """
        WITH ok AS (
            SELECT k.key AS org_uid, max(r.finished_at) AS at
            FROM cadt_mirror.sync_runs r, json_each(r.summary -> '$.orgs') k
            WHERE r.status IN ('success', 'partial')
              AND coalesce(k.value ->> '$.mode', '') <> 'failed'
            GROUP BY 1
        ),
        counts AS (
            SELECT org_uid,
                   (SELECT count(*) FROM cadt_v1.projects p WHERE p.org_uid = s.org_uid) AS np,
                   (SELECT count(*) FROM cadt_v1.units u WHERE u.org_uid = s.org_uid) AS nu
            FROM cadt_mirror.sync_state s
        )
        SELECT s.org_uid, o.name, s.generation, s.registry_hash, ok.at, s.synced_at,
               c.np, c.nu, s.audit_rows, o.registry_hash
        FROM cadt_mirror.sync_state s
        LEFT JOIN cadt_v1.organizations o USING (org_uid)
        LEFT JOIN ok USING (org_uid)
        LEFT JOIN counts c USING (org_uid)
        ORDER BY o.name NULLS LAST, s.org_uid
        """).fetchall()
    return [OrgFreshness(*r) for r in rows]
