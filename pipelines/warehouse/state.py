"""Per-organization sync state and run records (tables in schema cadt_mirror).

The state row of an org is written in the same transaction as that org's data, so after any
crash the warehouse holds, for every org, data and state of one and the same generation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

import duckdb

from pipelines.warehouse.schema import MIRROR_SCHEMA

STATE = f"{MIRROR_SCHEMA}.sync_state"
RUNS = f"{MIRROR_SCHEMA}.sync_runs"
CHANGES = f"{MIRROR_SCHEMA}.sync_changes"
HTTP_CACHE = f"{MIRROR_SCHEMA}.http_cache"


@dataclass
class OrgState:
    org_uid: str
    registry_id: str | None
    registry_hash: str | None
    generation: int
    audit_rows: int
    last_audit_id: int | None
    synced_at: datetime | None = None
    sync_id: str | None = None
    mode: str | None = None
    verified_at: datetime | None = None  # last time the audit tail was checked against ours


def load_states(con: duckdb.DuckDBPyConnection, version: str) -> dict[str, OrgState]:
    rows = con.execute(
        f"SELECT org_uid, registry_id, registry_hash, generation, audit_rows, last_audit_id,"
        f" synced_at, sync_id, mode, verified_at FROM {STATE} WHERE catalog_version = ?",
        [version],
    ).fetchall()
    return {r[0]: OrgState(*r) for r in rows}


def save_state(con: duckdb.DuckDBPyConnection, version: str, s: OrgState) -> None:
    """Replace the org's state row; call inside the org's data transaction."""
    delete_state(con, version, s.org_uid)
    con.execute(
        f"INSERT INTO {STATE} VALUES (?, ?, ?, ?, ?, ?, ?, now(), ?, ?, coalesce(?, now()))",
        [version, s.org_uid, s.registry_id, s.registry_hash, s.generation, s.audit_rows,
         s.last_audit_id, s.sync_id, s.mode, s.verified_at],
    )


def mark_verified(con: duckdb.DuckDBPyConnection, version: str, org_uid: str) -> None:
    con.execute(f"UPDATE {STATE} SET verified_at = now() WHERE catalog_version = ? AND org_uid = ?",
                [version, org_uid])


def delete_state(con: duckdb.DuckDBPyConnection, version: str, org_uid: str) -> None:
    con.execute(f"DELETE FROM {STATE} WHERE catalog_version = ? AND org_uid = ?",
                [version, org_uid])


def record_changes(con: duckdb.DuckDBPyConnection, version: str, sync_id: str, org_uid: str,
                   mode: str, counts: dict[str, tuple[int, int, int]]) -> None:
    rows = [(sync_id, version, org_uid, t, mode, i, u, d) for t, (i, u, d) in counts.items()
            if i or u or d]
    if rows:  # one statement: executemany would run one INSERT per row
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, now())"] * len(rows))
        con.execute(f"INSERT INTO {CHANGES} VALUES {values}", [v for r in rows for v in r])


def start_run(con: duckdb.DuckDBPyConnection, sync_id: str, version: str, api_url: str,
              mode: str) -> None:
    con.execute(
        f"INSERT INTO {RUNS} (sync_id, catalog_version, api_url, mode, started_at, status)"
        " VALUES (?, ?, ?, ?, now(), 'running')",
        [sync_id, version, api_url, mode],
    )


def finish_run(con: duckdb.DuckDBPyConnection, sync_id: str, status: str, error: str | None,
               requests: int, nbytes: int, orgs_changed: int, summary: dict) -> None:
    con.execute(
        f"UPDATE {RUNS} SET finished_at = now(), status = ?, error = ?, requests = ?, bytes = ?,"
        " orgs_changed = ?, summary = ? WHERE sync_id = ?",
        [status, error, requests, nbytes, orgs_changed, json.dumps(summary, default=str), sync_id],
    )


def get_etag(con: duckdb.DuckDBPyConnection, url: str) -> str | None:
    row = con.execute(f"SELECT etag FROM {HTTP_CACHE} WHERE url = ?", [url]).fetchone()
    return row[0] if row else None


def set_etag(con: duckdb.DuckDBPyConnection, url: str, etag: str | None) -> None:
    con.execute(f"DELETE FROM {HTTP_CACHE} WHERE url = ?", [url])
    if etag:
        con.execute(f"INSERT INTO {HTTP_CACHE} VALUES (?, ?, now())", [url, etag])

