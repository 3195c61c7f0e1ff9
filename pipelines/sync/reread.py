"""Which changed records an incremental sync must re-read from the API, and how.

A CADT node builds each row from the DataLayer value the audit feed also shows
(`src/tasks/sync-registries.js`: the value is upserted after dropping `updatedAt`, and
`createdAt` when null), so for a record the mirror already holds, the feed's value with the
stored node-stamped columns *is* the node's row, provided the value is complete and each field
has the type the node keeps unchanged (a string for text, an integer for numbers, a
millisecond ISO time for dates), and the stored row holds no field the catalogue does not know
(the node may keep columns the value does not show). Those edits cost no request. What the feed cannot give is the
node-local first-ingest time of a *new* record: new records are read from the API, where
`updatedAt` is that time, so `filter=updatedAt:<t>:gt` finds them a page of 1000 at a time.
Anything else (an incomplete or oddly typed value, a new child of an existing parent) re-reads
its record, or the parent that nests it, by key; and when the keys would cost more requests
than reading the organization's whole table, the table is re-crawled instead.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import duckdb

from pipelines.source.catalog import Catalog, FieldType, Table
from pipelines.sync.crawl import IDS_URL_BYTES
from pipelines.sync.feed import events_table
from pipelines.warehouse.landing import _lit
from pipelines.warehouse.schema import _q

ISO_MS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z"
_QUOTED_ISO_MS = f'"{ISO_MS}"'  # as a JSON string fragment
_QUOTED_SECONDS = '"[0-9]{1,12}"'
# JSON types (DuckDB's json_type) the node stores unchanged, per warehouse type
_PLAIN = {
    FieldType.TEXT: "('VARCHAR')",
    FieldType.BIGINT: "('BIGINT', 'UBIGINT')",
    FieldType.DOUBLE: "('BIGINT', 'UBIGINT', 'DOUBLE')",
    FieldType.BOOLEAN: "('BOOLEAN')",
}
SINCE_MARGIN_S = 1  # re-read records ingested up to a second before our newest: clock ties


@dataclass
class TablePlan:
    """How one crawled table of one organization is brought up to date."""

    table: Table
    new: list[str] = field(default_factory=list)  # keys the mirror does not hold
    by_key: list[str] = field(default_factory=list)  # held keys (or parents) to re-read
    since: str | None = None  # ISO time: the org's newest node-stamped time we hold, less margin
    held_rows: int = 0  # the org's rows of this table in the mirror
    feed_applied: int = 0  # changed records taken from the feed's values (no request)
    strategy: str = "none"  # none | targeted | keyset

    def summary(self) -> str:
        parts = [self.strategy]
        if self.new:
            parts.append(f"{len(self.new)} new")
        if self.by_key:
            parts.append(f"{len(self.by_key)} by key")
        if self.feed_applied:
            parts.append(f"{self.feed_applied} from the feed")
        return ", ".join(parts)

    def choose(self, page_size: int, concurrency: int = 4) -> None:
        """Targeted reads, or the whole table when that costs fewer requests."""
        if not self.new and not self.by_key:
            self.strategy = "none"
            return
        self.strategy = "targeted"
        if (keyset_requests(self.held_rows + len(self.new), page_size, concurrency)
                < self.requests(page_size)):
            self.strategy = "keyset"

    def requests(self, page_size: int) -> int:
        """Requests the chosen strategy needs (before verification re-reads)."""
        if self.strategy == "keyset":
            return keyset_requests(self.held_rows + len(self.new), page_size)
        if self.strategy == "none":
            return 0
        since = math.ceil(len(self.new) / page_size) + 1 if self.new and self.since else 0
        keys = self.by_key if self.since else [*self.by_key, *self.new]
        return since + key_requests(self.table, keys)


def keyset_requests(rows: int, page_size: int, concurrency: int = 4) -> int:
    """A keyset crawl's requests: its pages, and a last partial page per parallel range."""
    pages = rows // page_size + 1
    return pages + max(0, min(concurrency, pages - 1) - 1)


def keys_per_request(table: Table, key_len: int = 36) -> int:
    """How many keys of `key_len` characters one request may carry for `table`."""
    read = table.read
    if read is not None and read.by_path:
        return 1
    if read is not None and read.ids_param:
        return min(read.ids_max, IDS_URL_BYTES // (len(read.ids_param) + 2 + key_len))
    limit = read.filter_max if read is not None else None
    if limit is None:
        return 100  # keeps the URL well under Node's 16 KB header limit
    # f'{pk}:["k1","k2"]:in'
    fixed = len(table.primary_key[0]) + len(":[]:in")
    return max(1, (limit - fixed + 1) // (key_len + 3))


def key_requests(table: Table, keys: list[str]) -> int:
    if not keys:
        return 0
    return math.ceil(len(keys) / keys_per_request(table, max(len(k) for k in keys)))


def _plain_sql(catalog: Catalog, table: Table, keys: str, v: str) -> str:
    """SQL predicate: the value is complete and typed as the node stores it unchanged.

    `keys`: its top-level keys (`json_keys`); `v`: the struct of its fields as JSON fragments
    (`_fragments`), so the document is parsed once, not once per field."""
    name = catalog.value_key
    known = [name(f.api_name) for f in table.fields] + [n.key for n in table.nested]
    required = [name(f.api_name) for f in table.fields
                if f.api_name not in catalog.node_stamped | catalog.kept_if_absent]
    conds = [
        f"len(list_filter({keys}, lambda x: NOT list_contains("
        f"[{', '.join(map(_lit, known))}], x))) = 0",
        f"list_has_all({keys}, [{', '.join(map(_lit, required))}])",
    ]
    for f in table.fields:
        if f.api_name in catalog.node_stamped:
            continue  # the node drops it
        frag = f'{v}."{name(f.api_name)}"'  # SQL NULL for a JSON null and for an absent key
        t = f"json_type({frag})"
        if f.api_name in catalog.kept_if_absent:
            # absent: the node keeps its stored value; an explicit null is ambiguous: re-read
            allowed = f"NOT list_contains({keys}, {_lit(name(f.api_name))}) OR "
        else:
            allowed = f"{frag} IS NULL OR "  # (present: checked above) a JSON null
        if f.type in _PLAIN:
            ok = f"{t} IN {_PLAIN[f.type]}"
        elif f.type is FieldType.TIMESTAMP:
            ok = f"regexp_full_match({frag}::VARCHAR, {_lit(_QUOTED_ISO_MS)})"
        elif f.type is FieldType.UNIX_SECONDS:
            ok = (f"({t} IN ('BIGINT', 'UBIGINT') OR "
                  f"regexp_full_match({frag}::VARCHAR, {_lit(_QUOTED_SECONDS)}))")
        else:
            ok = "FALSE"
        conds.append(f"coalesce({allowed}{ok}, FALSE)")
    return " AND ".join(f"({c})" for c in conds)


def _fragments(catalog: Catalog, table: Table) -> str:
    """json_transform spec: every field of `table` as its raw JSON fragment."""
    return json.dumps({catalog.value_key(f.api_name): "JSON" for f in table.fields})


def plan(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str, org_uid: str | None,
         page_size: int, concurrency: int = 4, distrust: frozenset[str] = frozenset(),
         extra: dict[str, list[str]] | None = None) -> list[TablePlan]:
    """Classify the INSERT events of `batch` (see `feed.build_events`) and plan the reads.

    `org_uid`: the organization whose rows the mirror holds (None: the node's, v2).
    `distrust`: tables none of whose values may be applied from the feed (a DELETE without
    a value may have removed a key the window inserts again: the node stamped it afresh).
    `extra`: more held keys to re-read, per table."""
    extra = extra or {}
    events = events_table(batch)
    work = "_plan_" + hashlib.sha1(batch.encode()).hexdigest()[:16]
    inserted = {r[0] for r in con.execute(
        f"SELECT DISTINCT tbl FROM {events} WHERE type = 'INSERT'").fetchall()}
    if not inserted and not extra:
        return [TablePlan(table) for table in catalog.crawled]
    parts = []
    for table in catalog.current_state:
        if table.name not in inserted:
            continue
        pk = _q(table.key_columns[0])
        parts.append(f"""
            SELECT e.tbl, e.k, e.parent, h.k IS NOT NULL AND NOT e.recreated AS held,
                   CASE WHEN h.k IS NOT NULL AND NOT e.recreated AND NOT h.extra
                             AND e.is_object AND {table.name not in distrust}
                        THEN coalesce({_plain_sql(catalog, table, 'e.ks', 'e.v')}, FALSE)
                        ELSE FALSE END AS plain
            FROM (SELECT tbl, k, parent, recreated, is_object,
                         CASE WHEN is_object THEN json_keys(j) END AS ks,
                         CASE WHEN is_object THEN json_transform(j, {_lit(_fragments(catalog, table))})
                         END AS v
                  FROM (SELECT *, TRY_CAST(change AS JSON) AS j,
                               coalesce(json_type(TRY_CAST(change AS JSON)) = 'OBJECT', FALSE)
                                   AS is_object
                        FROM {events}
                        WHERE tbl = {_lit(table.name)} AND type = 'INSERT' AND k IS NOT NULL))
                 e
            LEFT JOIN (SELECT {pk} AS k, _extra IS NOT NULL AS extra
                       FROM {catalog.qualified(table.name)}) h ON h.k = e.k""")
    # one statement per table: each scan holds only its own table's values
    con.execute(f"CREATE OR REPLACE TEMP TABLE {work} AS "
                + (parts[0] if parts else "SELECT NULL::VARCHAR AS tbl, NULL::VARCHAR AS k, "
                   "NULL::VARCHAR AS parent, FALSE AS held, FALSE AS plain LIMIT 0"))
    for part in parts[1:]:
        con.execute(f"INSERT INTO {work} {part}").fetchall()
    planned = {table.name for table in catalog.crawled if table.name in inserted
               or table.name in extra or any(catalog.parent_of(c) is table
                                             for c in catalog.current_state if c.name in inserted)}
    try:
        return [_plan_one(con, catalog, work, table, org_uid, page_size, concurrency,
                          extra.get(table.name, []))
                if table.name in planned else TablePlan(table) for table in catalog.crawled]
    finally:
        con.execute(f"DROP TABLE IF EXISTS {work}")


def _plan_one(con: duckdb.DuckDBPyConnection, catalog: Catalog, work: str, table: Table,
              org_uid: str | None, page_size: int, concurrency: int,
              extra: list[str]) -> TablePlan:
    p = TablePlan(table)
    name = _lit(table.name)
    p.new = _keys(con, f"SELECT k FROM {work} WHERE tbl = {name} AND NOT held")
    children = [c.name for c in catalog.current_state if catalog.parent_of(c) is table]
    child_list = ", ".join(map(_lit, children)) or "''"
    p.by_key = _keys(con, f"""
        SELECT k FROM {work} WHERE tbl = {name} AND held AND NOT plain
        UNION
        SELECT parent FROM {work}
        WHERE tbl IN ({child_list}) AND NOT (held AND plain) AND parent IS NOT NULL
          AND parent NOT IN (SELECT k FROM {work} WHERE tbl = {name} AND NOT held)""")
    p.feed_applied = con.execute(
        f"SELECT count(*) FROM {work} WHERE held AND plain AND (tbl = {name} "
        f"OR tbl IN ({child_list}))").fetchall()[0][0]
    stamp = next((f.column for f in table.fields
                  if table.read and f.api_name == table.read.since_field), None)
    held, newest = con.execute(
        "SELECT count(*), "
        + (f"strftime(timezone('UTC', max({_q(stamp)})) - INTERVAL {SINCE_MARGIN_S} SECOND, "
           f"'%Y-%m-%dT%H:%M:%S.%gZ') " if stamp else "NULL ")
        + f"FROM {catalog.qualified(table.name)} WHERE "
        + ("org_uid = ? AND " if org_uid is not None else "") + "_source = 'api'",
        [org_uid] if org_uid is not None else []).fetchall()[0]
    p.held_rows, p.since = held, newest
    if extra:
        p.by_key = sorted({*p.by_key, *extra} - set(p.new))
    p.choose(page_size, concurrency)
    return p


def _keys(con: duckdb.DuckDBPyConnection, sql: str) -> list[str]:
    return [r[0] for r in con.execute(f"SELECT DISTINCT k FROM ({sql}) t(k) ORDER BY k").fetchall()]
