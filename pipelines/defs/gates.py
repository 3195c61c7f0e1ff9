"""Checks on the raw tables that gate publishing, evaluated by the sync step right after a sync.

Blocking (ERROR) checks fail the sync step once its materializations are recorded, so nothing
built on the raw tables (dbt, the serving copy) runs and BI readers keep the last good copy:

- `key_is_unique`: no two rows share a key.
- `complete`: per organization, as many rows as the node itself counts (organizations,
  projects, units, audit). Organizations that moved since the sync are skipped: the next sync
  catches up with them.
- `no_unexplained_drop`: per organization, fewer rows than in the last published copy only by
  as many as the audit feed deleted in between. Measured against the published copy, not the
  previous run, so an unexplained loss keeps blocking until it is repaired.

Warnings, never blocking: `no_quarantine` (rows of this sync set aside in
`cadt_mirror.quarantine`), `no_unknown_fields` (schema drift: fields the catalogue does not
know, kept in `_extra`), `node_in_sync` (the node itself lags behind an organization).
"""

from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
from dagster import AssetCheckResult, AssetCheckSeverity, AssetCheckSpec, AssetKey, MetadataValue

from pipelines.defs.node import COUNTED, NodeCounts
from pipelines.source.catalog_v1 import V1
from pipelines.sync.settings import SyncReport
from pipelines.warehouse.db import connect
from pipelines.warehouse.publish import serving_path

_CURRENT = tuple(t.name for t in V1.tables if t.audit_names)
_ALL = tuple(t.name for t in V1.tables)


@dataclass(frozen=True)
class Gate:
    name: str
    tables: tuple[str, ...]
    blocking: bool
    description: str

    def result(self, table: str, passed: bool, **metadata: Any) -> AssetCheckResult:
        return AssetCheckResult(
            asset_key=AssetKey([V1.schema, table]), check_name=self.name, passed=passed,
            severity=AssetCheckSeverity.ERROR if self.blocking else AssetCheckSeverity.WARN,
            metadata={k: _metadata(v) for k, v in metadata.items()})


def _metadata(value: Any) -> MetadataValue:
    if isinstance(value, MetadataValue):
        return value
    return MetadataValue.int(value) if isinstance(value, int) else MetadataValue.json(value)


KEY_IS_UNIQUE = Gate("key_is_unique", _ALL, True, "No two rows share the table's key.")
COMPLETE = Gate("complete", ("organizations", *COUNTED), True,
                "Per organization, as many rows as the node itself counts (organizations that "
                "moved since the sync are skipped).")
NO_UNEXPLAINED_DROP = Gate(
    "no_unexplained_drop", _CURRENT, True,
    "Per organization, rows lost since the last published copy are no more than the deletions "
    "the audit feed recorded in between.")
NO_QUARANTINE = Gate("no_quarantine", _ALL, False,
                     "No record of this sync was set aside in cadt_mirror.quarantine.")
NO_UNKNOWN_FIELDS = Gate("no_unknown_fields", _ALL, False,
                         "The node sent no field the catalogue does not know (schema drift; "
                         "unknown fields are kept in `_extra`).")
NODE_IN_SYNC = Gate("node_in_sync", ("organizations",), False,
                    "The node is not behind on any organization (sync_remaining = 0, synced).")
GATES = (KEY_IS_UNIQUE, COMPLETE, NO_UNEXPLAINED_DROP, NO_QUARANTINE, NO_UNKNOWN_FIELDS,
         NODE_IN_SYNC)
CHECK_SPECS = [AssetCheckSpec(g.name, asset=AssetKey([V1.schema, t]), blocking=g.blocking,
                              description=g.description)
               for g in GATES for t in g.tables]


def evaluate(database: Path, report: SyncReport,
             node: NodeCounts) -> dict[str, list[AssetCheckResult]]:
    """Every gate's result, by table."""
    out: dict[str, list[AssetCheckResult]] = defaultdict(list)
    con = connect(database, read_only=True)
    try:
        for r in (*key_is_unique(con), *complete(con, node),
                  *no_unexplained_drop(con, serving_path(database)),
                  *no_quarantine(con, report.sync_id), *no_unknown_fields(report),
                  *node_in_sync(con)):
            out[r.asset_key.path[-1]].append(r)
    finally:
        con.close()
    return out


def key_is_unique(con: duckdb.DuckDBPyConnection) -> Iterator[AssetCheckResult]:
    for t in V1.tables:
        n = con.execute(
            f"SELECT count(*) FROM (SELECT {', '.join(t.key_columns)} FROM {V1.qualified(t.name)}"
            " GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0]
        yield KEY_IS_UNIQUE.result(t.name, n == 0, duplicate_keys=MetadataValue.int(n))


def complete(con: duckdb.DuckDBPyConnection, node: NodeCounts) -> Iterator[AssetCheckResult]:
    synced = _hashes(con)
    held = [o for o, h in node.hashes.items() if o in node.steady and synced.get(o) == h]
    skipped = sorted(set(node.hashes) - set(held))
    for table in COUNTED:
        mine = _rows_per_org(con, table)
        compared = {o: {"node": node.counts[(table, o)], "mirror": mine.get(o, 0)} for o in held}
        differ = {o: c for o, c in compared.items() if c["node"] != c["mirror"]}
        yield COMPLETE.result(table, not differ, differ=differ, compared=compared,
                              skipped_moved_since_sync=skipped)
    listed = sorted(node.hashes)
    mirrored = sorted(r[0] for r in con.execute(
        f"SELECT org_uid FROM {V1.qualified('organizations')}").fetchall())
    yield COMPLETE.result("organizations", not node.orgs_steady or listed == mirrored,
                          node=listed, mirror=mirrored,
                          skipped_moved_since_sync=[] if node.orgs_steady else listed)


def no_unexplained_drop(con: duckdb.DuckDBPyConnection,
                        published: Path) -> Iterator[AssetCheckResult]:
    if not published.exists():
        for table in _CURRENT:
            yield NO_UNEXPLAINED_DROP.result(table, True, note="no published copy yet")
        return
    base = connect(published, read_only=True)
    try:
        then = {t: _rows_per_org(base, t) for t in _CURRENT}
        then_gen = _generations(base)
    finally:
        base.close()
    now_gen = _generations(con)
    deleted = {o: _feed_deletes(con, o, then_gen.get(o, -1), g) for o, g in now_gen.items()}
    for table in _CURRENT:
        now = _rows_per_org(con, table)
        drops = {o: n - now.get(o, 0) for o, n in then[table].items() if n > now.get(o, 0)}
        removed = sorted(o for o in drops if o not in now_gen)  # left the node's organization map
        unexplained = {o: {"published": then[table][o], "now": now.get(o, 0), "dropped": d,
                           "deleted_by_feed": deleted[o].get(table, 0)}
                       for o, d in drops.items()
                       if o in now_gen and d > deleted[o].get(table, 0)}
        yield NO_UNEXPLAINED_DROP.result(table, not unexplained, unexplained=unexplained,
                                         removed_organizations=removed,
                                         published_rows=sum(then[table].values()),
                                         rows=sum(now.values()))


def no_quarantine(con: duckdb.DuckDBPyConnection, sync_id: str) -> Iterator[AssetCheckResult]:
    found: dict[str, tuple[int, list[str]]] = {}
    for name, n, reasons in con.execute(
            "SELECT table_name, count(*), list(DISTINCT reason)[:5] FROM cadt_mirror.quarantine "
            "WHERE sync_id = ? GROUP BY 1", [sync_id]).fetchall():
        table = name if name in _ALL else "audit"
        prev = found.get(table, (0, []))
        found[table] = (prev[0] + n, [*prev[1], *reasons][:5])
    for table in _ALL:
        n, reasons = found.get(table, (0, []))
        yield NO_QUARANTINE.result(table, n == 0, quarantined=MetadataValue.int(n),
                                   reasons=reasons, sync_id=MetadataValue.text(sync_id))


def no_unknown_fields(report: SyncReport) -> Iterator[AssetCheckResult]:
    audit_tables = sorted({t for o in report.orgs for t in o.unknown_audit_tables})
    for table in _ALL:
        fields = sorted(report.unknown_fields.get(table, []))
        extra = {"unknown_audit_tables": audit_tables} if table == "audit" else {}
        yield NO_UNKNOWN_FIELDS.result(table, not fields and not extra.get("unknown_audit_tables"),
                                       unknown_fields=fields, **extra)


def node_in_sync(con: duckdb.DuckDBPyConnection) -> Iterator[AssetCheckResult]:
    behind = {uid: {"name": name, "sync_remaining": remaining, "synced": synced}
              for uid, name, remaining, synced in con.execute(
                  f"SELECT org_uid, name, sync_remaining, synced FROM "
                  f"{V1.qualified('organizations')} "
                  "WHERE coalesce(sync_remaining, 0) > 0 OR synced IS FALSE").fetchall()}
    yield NODE_IN_SYNC.result("organizations", not behind, behind=behind)


def _rows_per_org(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, int]:
    try:
        return dict(con.execute(f"SELECT org_uid, count(*) FROM {V1.qualified(table)} "
                                "GROUP BY 1").fetchall())
    except duckdb.CatalogException:  # a copy published before the table existed
        return {}


def _hashes(con: duckdb.DuckDBPyConnection) -> dict[str, str | None]:
    return dict(con.execute("SELECT org_uid, registry_hash FROM cadt_mirror.sync_state "
                            "WHERE catalog_version = ?", [V1.version]).fetchall())


def _generations(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(con.execute("SELECT org_uid, generation FROM cadt_mirror.sync_state "
                            "WHERE catalog_version = ?", [V1.version]).fetchall())


_AUDIT_NAMES: Mapping[str, str] = {a: t.name for t in V1.tables for a in t.audit_names}


def _feed_deletes(con: duckdb.DuckDBPyConnection, org: str, after: int,
                  upto: int) -> dict[str, int]:
    """DELETE events per table the audit feed holds for `org` in generations (after, upto]."""
    out: dict[str, int] = defaultdict(int)
    for name, n in con.execute(
            f'SELECT "table", count(*) FROM {V1.qualified("audit")} WHERE org_uid = ? '
            "AND type = 'DELETE' AND generation > ? AND generation <= ? GROUP BY 1",
            [org, after, upto]).fetchall():
        if name in _AUDIT_NAMES:
            out[_AUDIT_NAMES[name]] += n
    return out
