"""Move one batch of staged rows into the current-state tables, counting what changed.

One function does it for every table and every mode; callers only say which existing rows the
batch is authoritative for (`scope`) and which keys the change feed deleted (`deleted`):
- snapshot of an org: scope = all of the org's rows, so rows the source no longer has go away;
- incremental: scope = children of the re-fetched parents, deleted = the feed's DELETE keys.
Staged rows replace existing rows with the same key, so keys stay unique.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb

from pipelines.source.catalog import Catalog, Table
from pipelines.warehouse.landing import staging_name
from pipelines.warehouse.schema import MIRROR_SCHEMA, _q


@dataclass(frozen=True)
class Counts:
    inserted: int = 0
    updated: int = 0
    deleted: int = 0

    def as_tuple(self) -> tuple[int, int, int]:
        return (self.inserted, self.updated, self.deleted)


def key_expr(table: Table, alias: str = "") -> str:
    p = f"{alias}." if alias else ""
    cols = [f"{p}{_q(c)}" for c in table.key_columns]
    return cols[0] if len(cols) == 1 else f"concat_ws(chr(31), {', '.join(cols)})"


def apply_batch(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    table: Table,
    batch: str,
    sync_id: str,
    *,
    scope: str | None = None,
    deleted: str | None = None,
    staged_filter: str = "TRUE",
    fresh: bool = False,
) -> Counts:
    """Apply staged rows of `batch` to `table`. Must run inside the caller's transaction.

    scope:   SQL predicate over the target (alias t) selecting rows this batch fully describes.
    deleted: SQL query returning keys (one column `k`) to delete.
    fresh:   the target holds nothing of this batch's scope yet (an organization's first
             snapshot): skip comparing with existing rows.
    """
    target = catalog.qualified(table.name)
    stg = staging_name(catalog, table)
    key_t = key_expr(table, "t")
    cols = [_q(f.column) for f in table.fields]
    if fresh:
        return _insert_fresh(con, table, target, stg, batch, cols, staged_filter, sync_id)
    _create_new(con, table, target, stg, batch, cols, staged_filter)

    gone_parts = []
    if scope:
        gone_parts.append(f"SELECT {key_t} AS k FROM {target} t WHERE {scope}")
    if deleted:
        gone_parts.append(deleted)
    n_deleted = 0
    if gone_parts:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _gone AS SELECT DISTINCT k FROM ("
            + " UNION ALL ".join(gone_parts)
            + ") WHERE k IS NOT NULL AND k NOT IN (SELECT _k FROM _new)"
        )
        n_deleted = con.execute(
            f"SELECT count(*) FROM {target} t WHERE {key_t} IN (SELECT k FROM _gone)"
        ).fetchone()[0]
        con.execute(f"DELETE FROM {target} t WHERE {key_t} IN (SELECT k FROM _gone)")
    ins, upd = con.execute("SELECT count(*) FILTER (_is_new), count(*) FILTER (_is_changed) FROM _new").fetchone()
    con.execute(f"DELETE FROM {target} t WHERE {key_t} IN (SELECT _k FROM _new)")
    con.execute(
        f"INSERT INTO {target} SELECT {', '.join(cols)}, _extra, _source, now(), ? FROM _new",
        [sync_id],
    )
    con.execute("DROP TABLE _new")
    return Counts(ins, upd, n_deleted)


def _deduped(table: Table, stg: str, staged_filter: str) -> str:
    """Staged rows of one batch (parameter: the batch), one per key, the best source first."""
    return f"""
        SELECT * FROM {stg}
        WHERE _batch = ? AND {" AND ".join(f"{_q(c)} IS NOT NULL" for c in table.key_columns)}
          AND ({staged_filter})
        QUALIFY row_number() OVER (PARTITION BY {key_expr(table)} ORDER BY _prio) = 1
    """


def _insert_fresh(con: duckdb.DuckDBPyConnection, table: Table, target: str, stg: str,
                  batch: str, cols: list[str], staged_filter: str, sync_id: str) -> Counts:
    """Straight from staging into the target: nothing of this scope exists to compare with."""
    # keys are unique across the table: a key another organization used is replaced
    replaced = con.execute(
        f"DELETE FROM {target} t WHERE {key_expr(table, 't')} IN (SELECT {key_expr(table)} "
        f"FROM {stg} WHERE _batch = ? AND ({staged_filter}))", [batch]).fetchall()[0][0]
    inserted = con.execute(
        f"INSERT INTO {target} SELECT {', '.join(cols)}, _extra, _source, now(), ? "
        f"FROM ({_deduped(table, stg, staged_filter)})", [sync_id, batch]).fetchall()[0][0]
    return Counts(inserted - replaced, replaced, 0)


def _create_new(con: duckdb.DuckDBPyConnection, table: Table, target: str, stg: str, batch: str,
                cols: list[str], staged_filter: str) -> None:
    key_s = key_expr(table, "s")
    key_t = key_expr(table, "t")
    has_ts = {c for c in ('"created_at"', '"updated_at"') if c in cols}
    select_cols = [
        (f"CASE WHEN s._source = 'audit' THEN coalesce(o.{c}, s.{c}) ELSE s.{c} END AS {c}"
         if c in has_ts else f"s.{c}")
        for c in cols
    ]
    old_ts = "".join(f", t.{c}" for c in sorted(has_ts))
    hash_s = f"hash({', '.join('s.' + c for c in cols)}, s._extra::VARCHAR)"
    hash_t = f"hash({', '.join('t.' + c for c in cols)}, t._extra::VARCHAR)"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT {", ".join(select_cols)}, s._extra, s._source, {key_s} AS _k,
               o._k IS NULL AS _is_new,
               o._k IS NOT NULL AND o._h IS DISTINCT FROM {hash_s} AS _is_changed
        FROM ({_deduped(table, stg, staged_filter)}) s
        LEFT JOIN (
            SELECT {key_t} AS _k, {hash_t} AS _h{old_ts} FROM {target} t
            WHERE {key_t} IN (SELECT {key_expr(table)} FROM {stg} WHERE _batch = ?)
        ) o ON o._k = {key_s}
        """,
        [batch, batch],
    )


def quarantine_batch(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str, sync_id: str,
                     org_uid: str | None, tables: Iterable[str] | None = None) -> int:
    """Copy every staged row with problems to cadt_mirror.quarantine (reason + raw record);
    `tables` limits the search to the tables known to have some."""
    total = 0
    for table in catalog.tables:
        if tables is not None and table.name not in tables:
            continue
        stg = staging_name(catalog, table)
        key = key_expr(table)
        n = con.execute(
            f"""
            INSERT INTO {MIRROR_SCHEMA}.quarantine
            SELECT ?, now(), ?, ?, ?, {key}::VARCHAR, array_to_string(_issues, '; '), _raw
            FROM {stg} WHERE _batch = ? AND len(_issues) > 0
            """,
            [sync_id, catalog.version, org_uid, table.name, batch],
        ).fetchone()[0]
        total += n or 0
    return total
