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
    record: str | None = None,
) -> Counts:
    """Apply staged rows of `batch` to `table`. Must run inside the caller's transaction.

    scope:   SQL predicate over the target (alias t) selecting rows this batch fully describes.
    deleted: SQL query returning keys (one column `k`) to delete.
    fresh:   the target holds nothing of this batch's scope yet (an organization's first
             snapshot): skip comparing with existing rows.
    record:  the organization to log each inserted, updated and deleted record under in
             `cadt_mirror.record_changes` (a first snapshot logs one `snapshot` row instead).
    """
    target = catalog.qualified(table.name)
    stg = staging_name(catalog, table)
    key_t = key_expr(table, "t")
    cols = [_q(f.column) for f in table.fields]
    log = ChangeLog(con, catalog, table, sync_id, record) if record is not None else None
    if fresh:
        counts = _insert_fresh(con, table, target, stg, batch, cols, staged_filter, sync_id)
        if log is not None and (counts.inserted or counts.updated):
            log.snapshot(counts)
        return counts
    _create_new(con, catalog, table, target, stg, batch, cols, staged_filter)

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
        if log is not None and n_deleted:
            log.deleted(target, f"{key_t} IN (SELECT k FROM _gone)")
        con.execute(f"DELETE FROM {target} t WHERE {key_t} IN (SELECT k FROM _gone)")
    ins, upd = con.execute("SELECT count(*) FILTER (_is_new), count(*) FILTER (_is_changed) FROM _new").fetchone()
    if log is not None and (ins or upd):
        log.upserted(target, key_t)
    con.execute(f"DELETE FROM {target} t WHERE {key_t} IN (SELECT _k FROM _new)")
    con.execute(
        f"INSERT INTO {target} SELECT {', '.join(cols)}, _extra, _source, now(), ? FROM _new",
        [sync_id],
    )
    con.execute("DROP TABLE _new")
    return Counts(ins, upd, n_deleted)


def _staged(table: Table, stg: str, staged_filter: str) -> str:
    """Staged rows of one batch (parameter: the batch) that have a key."""
    return f"""
        SELECT * FROM {stg}
        WHERE _batch = ? AND {" AND ".join(f"{_q(c)} IS NOT NULL" for c in table.key_columns)}
          AND ({staged_filter})
    """


def _deduped(table: Table, stg: str, staged_filter: str) -> str:
    """Staged rows of one batch (parameter: the batch), one per key, the best source first."""
    return f"""{_staged(table, stg, staged_filter)}
        QUALIFY row_number() OVER (PARTITION BY {key_expr(table)} ORDER BY _prio) = 1
    """


CHANGES = f"{MIRROR_SCHEMA}.record_changes"


class ChangeLog:
    """Per-record changes of one apply, inside its transaction: inserts (the key), updates
    (`{column: [before, after]}` of the columns that changed) and deletes (the row as it was)."""

    def __init__(self, con: duckdb.DuckDBPyConnection, catalog: Catalog, table: Table,
                 sync_id: str, org_uid: str) -> None:
        self.con, self.table = con, table
        self.head = [sync_id, catalog.version, org_uid, table.name]
        self.cols = [*(f.column for f in table.fields), "_extra"]

    def _insert(self, select: str) -> None:
        self.con.execute(f"INSERT INTO {CHANGES} SELECT ?, ?, ?, ?, * FROM ({select})",
                         self.head).fetchall()

    def snapshot(self, counts: Counts) -> None:
        self._insert(f"SELECT NULL::VARCHAR, 'snapshot', "
                     f"json_object('rows', {counts.inserted + counts.updated}), now()")

    @staticmethod
    def snapshots(con: duckdb.DuckDBPyConnection, catalog: Catalog, sync_id: str,
                  org_uid: str, counts: dict[str, Counts]) -> None:
        """What `snapshot` logs for each table of a first snapshot, in one INSERT."""
        rows = [(name, c.inserted + c.updated) for name, c in counts.items()
                if c.inserted or c.updated]
        if not rows:
            return
        values = ", ".join(["(?, ?, ?, ?, NULL::VARCHAR, 'snapshot', json_object('rows', ?), "
                            "now())"] * len(rows))
        con.execute(f"INSERT INTO {CHANGES} VALUES {values}",
                    [v for name, n in rows for v in (sync_id, catalog.version, org_uid, name, n)]
                    ).fetchall()

    def deleted(self, target: str, where: str, params: list[object] | None = None) -> None:
        """Log the rows of `target` (alias t) that `where` selects, before they are deleted."""
        row = ", ".join(f"'{c}', t.{_q(c)}" for c in self.cols)
        self.con.execute(
            f"INSERT INTO {CHANGES} SELECT ?, ?, ?, ?, {key_expr(self.table, 't')}::VARCHAR, "
            f"'delete', json_object({row}), now() FROM {target} t WHERE {where}",
            [*self.head, *(params or [])]).fetchall()

    def upserted(self, target: str, key_t: str) -> None:
        diff = ", ".join(
            f"'{c}', CASE WHEN t.{_q(c)} IS DISTINCT FROM n.{_q(c)} "
            f"THEN json_array(t.{_q(c)}, n.{_q(c)}) END" for c in self.cols)
        self._insert(
            f"SELECT n._k::VARCHAR, CASE WHEN n._is_new THEN 'insert' ELSE 'update' END, "
            f"CASE WHEN n._is_new THEN NULL ELSE json_merge_patch('{{}}', json_object({diff})) "
            f"END, now() FROM _new n LEFT JOIN {target} t ON {key_t} = n._k "
            f"WHERE n._is_new OR n._is_changed")


# Rows staged from the feed ('feed') keep the stored row's source: an edit of a record the API
# shows stays 'api'; a record only the feed has becomes 'audit'.
_FINAL_SOURCE = ("CASE {s}_source WHEN 'feed' THEN coalesce({o}, 'audit') WHEN 'fresh' "
                 "THEN 'audit' ELSE {s}_source END")


def _insert_fresh(con: duckdb.DuckDBPyConnection, table: Table, target: str, stg: str,
                  batch: str, cols: list[str], staged_filter: str, sync_id: str) -> Counts:
    """Straight from staging into the target: nothing of this scope exists to compare with."""
    # keys are unique across the table: a key another organization used is replaced
    replaced = con.execute(
        f"DELETE FROM {target} t WHERE {key_expr(table, 't')} IN (SELECT {key_expr(table)} "
        f"FROM {stg} WHERE _batch = ? AND ({staged_filter}))", [batch]).fetchall()[0][0]
    source = _FINAL_SOURCE.format(s="", o="NULL")
    rows = _deduped(table, stg, staged_filter)
    if table.endpoint is not None and _keys_unique(con, table, stg, batch, staged_filter):
        # a table read from its own endpoint (projects, units, the audit feed) has each key
        # once, nearly always: then no window has to carry every column of every row
        rows = _staged(table, stg, staged_filter)
    inserted = con.execute(
        f"INSERT INTO {target} SELECT {', '.join(cols)}, _extra, {source}, now(), ? "
        f"FROM ({rows})", [sync_id, batch]).fetchall()[0][0]
    return Counts(inserted - replaced, replaced, 0)


def _keys_unique(con: duckdb.DuckDBPyConnection, table: Table, stg: str, batch: str,
                 staged_filter: str) -> bool:
    """No key occurs twice among the staged rows `_deduped` would choose from."""
    n, distinct = con.execute(
        f"SELECT count(*), count(DISTINCT {key_expr(table)}) FROM ({_staged(table, stg, staged_filter)})",
        [batch]).fetchall()[0]
    return n == distinct


def _create_new(con: duckdb.DuckDBPyConnection, catalog: Catalog, table: Table, target: str,
                stg: str, batch: str, cols: list[str], staged_filter: str) -> None:
    """`_new`: the batch's rows as they will be stored, flagged new or changed.

    For rows from the feed, what the node stamps itself comes from the stored row (NULL for a
    record we never saw on the API), and what the node keeps when a value lacks it falls back
    to the stored row, as the node does on re-ingest."""
    key_s = key_expr(table, "s")
    key_t = key_expr(table, "t")
    by_name = {_q(f.column): f.api_name for f in table.fields}
    # 'feed': an edit of the stored record; 'fresh': a record the node ingested anew
    def final(c: str) -> str:
        if by_name[c] in catalog.node_stamped:
            return (f"CASE s._source WHEN 'feed' THEN o.{c} WHEN 'fresh' THEN NULL "
                    f"ELSE s.{c} END AS {c}")
        if by_name[c] in catalog.kept_if_absent:
            return (f"CASE WHEN s._source = 'feed' THEN coalesce(s.{c}, o.{c}) "
                    f"ELSE s.{c} END AS {c}")
        return f"s.{c}"

    stamped = [c for c in cols if by_name[c] in catalog.node_stamped | catalog.kept_if_absent]
    old_cols = "".join(f", t.{c}" for c in stamped)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE _new AS
        SELECT *, _o_k IS NULL AS _is_new,
               _o_k IS NOT NULL AND _o_h IS DISTINCT FROM
                   hash({", ".join(cols)}, _extra::VARCHAR) AS _is_changed
        FROM (
            SELECT {", ".join(final(c) for c in cols)}, s._extra,
                   {_FINAL_SOURCE.format(s="s.", o="o._source")} AS _source,
                   {key_s} AS _k, o._k AS _o_k, o._h AS _o_h
            FROM ({_deduped(table, stg, staged_filter)}) s
            LEFT JOIN (
                SELECT {key_t} AS _k, t._source,
                       hash({", ".join("t." + c for c in cols)}, t._extra::VARCHAR) AS _h
                       {old_cols}
                FROM {target} t
                WHERE {key_t} IN (SELECT {key_expr(table)} FROM {stg} WHERE _batch = ?)
            ) o ON o._k = {key_s}
        )
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
