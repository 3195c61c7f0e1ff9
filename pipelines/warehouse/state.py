"""Per-organization sync state and run records (tables in schema cadt_mirror).

The state row of an org is written in the same transaction as that org's data, so after any
crash the warehouse holds, for every org, data and state of one and the same generation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import duckdb

from pipelines.warehouse.schema import MIRROR_SCHEMA

STATE = f"{MIRROR_SCHEMA}.sync_state"
RUNS = f"{MIRROR_SCHEMA}.sync_runs"
CHANGES = f"{MIRROR_SCHEMA}.sync_changes"
HTTP_CACHE = f"{MIRROR_SCHEMA}.http_cache"
NODE = f"{MIRROR_SCHEMA}.node"
DEMO = f"{MIRROR_SCHEMA}.demo"
NODE_HEADERS = ("x-governance-body", "x-datamodel-version", "x-api-version")


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


def mark_states(con: duckdb.DuckDBPyConnection, mode: str) -> None:
    """Give every organization's state (of every data model) `mode`, e.g. to make the next
    sync re-snapshot them all after the warehouse switched nodes."""
    con.execute(f"UPDATE {STATE} SET mode = ?", [mode])


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
        [sync_id, version, public_url(api_url), mode],
    )


def abandon_runs(con: duckdb.DuckDBPyConnection, sync_id: str) -> int:
    """Runs still `running` while we hold the write lock belong to a process that died (SIGKILL,
    power loss) before it could record its end: mark them `abandoned`."""
    return con.execute(
        f"UPDATE {RUNS} SET status = 'abandoned', error = ? WHERE status = 'running'",
        [f"the process ended without recording the end of the run (found by sync {sync_id})"],
    ).fetchall()[0][0]


def committed_orgs(con: duckdb.DuckDBPyConnection, sync_id: str,
                   organizations: str = "cadt_v1.organizations") -> list[dict[str, Any]]:
    """Organizations whose commit in this run went through (for a run that was interrupted)."""
    rows = con.execute(
        f"""
        WITH done AS (
            SELECT org_uid, mode FROM {STATE} WHERE sync_id = ?
            UNION SELECT org_uid, mode FROM {CHANGES} WHERE sync_id = ? AND org_uid <> '*'
        )
        SELECT d.org_uid, any_value(o.name), any_value(d.mode)
        FROM done d LEFT JOIN {organizations} o USING (org_uid)
        GROUP BY d.org_uid ORDER BY 2 NULLS LAST, 1
        """, [sync_id, sync_id]).fetchall()
    return [{"org_uid": uid, "name": name, "mode": mode} for uid, name, mode in rows]


def note_switch(con: duckdb.DuckDBPyConnection, sync_id: str, previous: str) -> None:
    con.execute(f"UPDATE {RUNS} SET switched_from = ? WHERE sync_id = ?", [previous, sync_id])


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



# -- the node this warehouse mirrors --------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    api_url: str  # node_root() of the URL: the node's identity
    governance_body: str | None = None
    datamodel_version: str | None = None
    api_version: str | None = None


def public_url(url: str) -> str:
    """`url` without credentials, query or fragment: safe to print and store."""
    parts = urlsplit(url.strip())
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def node_root(url: str) -> str:
    """What identifies a node: scheme and host in lower case, the port unless it is the
    default, the path without a trailing `/`, `/v1` and `/api` (so `http://h:31310`,
    `http://h:31310/v1` and `http://h:31310/api/v1` are one node); no credentials or query."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    host = f"[{host}]" if ":" in host else host
    port = parts.port
    netloc = host if port in (None, {"http": 80, "https": 443}.get(scheme)) else f"{host}:{port}"
    path = parts.path.rstrip("/")
    for suffix in ("/v1", "/v2", "/api"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((scheme, netloc, path, "", ""))


def node_from_response(url: str, headers: Any) -> Node:
    """The node as the organizations response describes itself (headers may be absent)."""
    values = [headers.get(h) if headers is not None else None for h in NODE_HEADERS]
    return Node(node_root(url), *values)


def load_node(con: duckdb.DuckDBPyConnection) -> Node | None:
    """The recorded node; for a warehouse older than that record, the node its last good run
    read from; None for a new warehouse."""
    row = con.execute(f"SELECT api_url, governance_body, datamodel_version, api_version "
                      f"FROM {NODE} ORDER BY recorded_at DESC LIMIT 1").fetchall()
    if row:
        return Node(*row[0])
    last = con.execute(f"SELECT api_url FROM {RUNS} WHERE status IN ('success', 'partial') "
                       "AND api_url IS NOT NULL ORDER BY started_at DESC LIMIT 1").fetchall()
    return Node(node_root(last[0][0])) if last else None


def save_node(con: duckdb.DuckDBPyConnection, node: Node, sync_id: str) -> None:
    """Record `node` as the one this warehouse mirrors; header values a response did not send
    (a 304 may omit them) keep the recorded ones."""
    old = load_node(con)
    keep = old if old is not None and old.api_url == node.api_url else Node(node.api_url)
    con.execute("BEGIN")
    try:
        con.execute(f"DELETE FROM {NODE}")
        con.execute(f"INSERT INTO {NODE} VALUES (?, ?, ?, ?, now(), ?)", [
            node.api_url, node.governance_body or keep.governance_body,
            node.datamodel_version or keep.datamodel_version,
            node.api_version or keep.api_version, sync_id])
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def mark_demo(con: duckdb.DuckDBPyConnection, seed: int, scale: float) -> None:
    con.execute(f"INSERT INTO {DEMO} VALUES (now(), ?, ?)", [seed, scale])


def is_demo(con: duckdb.DuckDBPyConnection) -> bool:
    """Was this warehouse made by `cadt-mirror demo`?"""
    found = con.execute("SELECT count(*) FROM information_schema.tables "
                        "WHERE table_schema = ? AND table_name = 'demo'",
                        [MIRROR_SCHEMA]).fetchall()[0][0]
    return bool(found) and con.execute(f"SELECT count(*) FROM {DEMO}").fetchall()[0][0] > 0
