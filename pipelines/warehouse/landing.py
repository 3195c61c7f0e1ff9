"""Land API records into typed staging tables in bulk.

The client has already read every page (it must, to validate it and to continue the keyset):
as Arrow columns when the strict reader could take it (`pipelines.source.arrow_pages`, the
normal case), else as parsed JSON values. `stage_pages` splits the records into one Arrow table
per catalogue table (children flattened out of their parents as the catalogue declares the
nesting) and hands each to DuckDB: one INSERT per table and batch casts what Arrow does not
already hold in its warehouse type (numbers and times in their usual form are typed in Arrow;
anything else arrives as JSON text) and records per-row problems in `_issues`. A row with an
unreadable value keeps NULL there; its raw record is attached for the quarantine.

Records that only the audit feed still has (`land_records_sql`) arrive as JSON text in SQL and
go through the same typed INSERT.
"""

from __future__ import annotations

import io
import itertools
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from pipelines.source.arrow_pages import JSON_ARROW_TYPES, Records
from pipelines.source.catalog import Catalog, Field, FieldType, Nested, Table
from pipelines.warehouse.schema import MIRROR_COLUMNS, _q

# Staging is scratch: tables of an in-memory database attached to the sync's connection
# (spilling to the temp directory), never written to the warehouse file, gone with the process
# if it dies. Unlike TEMP tables they are shared by the connection's cursors, so pages are
# staged on one cursor while another commits the previous organization.
STAGING_DB = "cadt_stage"
STAGING_CATALOG = f"{STAGING_DB}.main"
STAGING_EXTRA_COLUMNS = (
    ("_issues", "VARCHAR[]"),
    ("_raw", "VARCHAR"),
    ("_batch", "VARCHAR"),
    ("_prio", "INTEGER"),
    ("_ref", "BIGINT"),
)
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31
# `_ref`s come in blocks of 2**20, one block per table per staged batch: they find the raw
# record of a row the quarantine needs, and order the resumable audit rows. Blocks count up from
# the current millisecond (since 2025), so a later process always continues above an earlier one.
_BLOCK_BITS = 20
_refs = itertools.count(int(time.time() * 1000) - 1_735_689_600_000)
_BAD = 1 << (_BLOCK_BITS - 1)  # refs of non-object entries start here within a block


@dataclass(frozen=True)
class LandContext:
    batch: str
    # 'api' (read from a list endpoint) or 'feed' (a value from the audit feed: the columns
    # the node stamps itself are never taken from it; the merge keeps the stored ones)
    source: str = "api"
    prio: int = 0  # lower wins when the same key lands twice (e.g. label via project and unit)


def ensure_staging(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Create staging tables (same columns as the targets + landing bookkeeping)."""
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {STAGING_DB}")
    for t in catalog.tables:
        cols = [f"{_q(f.column)} {f.type.sql_type}" for f in t.fields]
        cols += [f"{n} {ty}" for n, ty, _ in MIRROR_COLUMNS]
        cols += [f"{n} {ty}" for n, ty in STAGING_EXTRA_COLUMNS]
        con.execute(f"CREATE TABLE IF NOT EXISTS {staging_name(catalog, t)} ({', '.join(cols)})")


# The audit history of a large organization is the longest read of a snapshot: its staged rows
# live in the warehouse file (committed batch by batch), so a snapshot that dies resumes the
# backfill where it stopped instead of starting over.
RESUMABLE = frozenset({"audit"})
RESUMABLE_SUFFIX = "/snapshot"  # batches whose resumable rows survive a failed sync


def staging_name(catalog: Catalog, table: Table) -> str:
    if table.name in RESUMABLE:
        return f"cadt_mirror.staging_{catalog.version}_{table.name}"
    return f"{STAGING_CATALOG}.stg_{catalog.version}_{table.name}"


@dataclass(frozen=True)
class Staged:
    """What one batch holds in one staging table."""

    rows: int
    with_issues: int  # rows the quarantine takes
    with_extra: int  # API rows carrying fields the catalogue does not know


def staged_counts(con: duckdb.DuckDBPyConnection, catalog: Catalog,
                  batch: str) -> dict[str, Staged]:
    """Per table, in one query: lets a commit skip the statements of tables it has nothing for."""
    parts = [
        f"SELECT {_lit(t.name)}, count(*), count(*) FILTER (len(_issues) > 0), "
        f"count(_extra) FILTER (_source = 'api') FROM {staging_name(catalog, t)} WHERE _batch = ?"
        for t in catalog.tables
    ]
    rows = con.execute(" UNION ALL ".join(parts), [batch] * len(parts)).fetchall()
    return {name: Staged(n, issues, extra) for name, n, issues, extra in rows}


def clear_batch(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                keep_resumable: bool = False, tables: Iterable[str] | None = None) -> None:
    only = None if tables is None else set(tables)
    for t in catalog.tables:
        if (keep_resumable and t.name in RESUMABLE) or (only is not None and t.name not in only):
            continue
        con.execute(f"DELETE FROM {staging_name(catalog, t)} WHERE _batch = ?", [batch])


def reset_staging(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Start from empty staging, keeping only resumable rows of unfinished snapshots."""
    con.execute(f"ATTACH IF NOT EXISTS ':memory:' AS {STAGING_DB}")
    for t in catalog.tables:
        if t.name in RESUMABLE:
            con.execute("CREATE SCHEMA IF NOT EXISTS cadt_mirror")
        else:
            con.execute(f"DROP TABLE IF EXISTS {staging_name(catalog, t)}")
    ensure_staging(con, catalog)
    for name in RESUMABLE:
        con.execute(f"DELETE FROM {staging_name(catalog, catalog.table(name))} "
                    f"WHERE _batch NOT LIKE '%{RESUMABLE_SUFFIX}'")


# -- records parsed by the client ---------------------------------------------------------------
# A page arrives either as Arrow columns (`pipelines.source.arrow_pages`: the strict reader took
# it) or as parsed JSON values (anything else). Both become one Arrow table per table and batch,
# with the same columns, and go through the same typed INSERT.

def _text(v: Any) -> str | None:
    """A JSON value as text, the way the warehouse's text columns hold it."""
    if v is None or isinstance(v, str):
        return v
    return orjson.dumps(v).decode()


class _Rows:
    """Rows of one table from a batch of pages, as columns.

    Each row gets a `_ref` (block base + position) so that rows the typed INSERT finds
    unreadable can be given their raw record afterwards."""

    def __init__(self, table: Table, depth: int) -> None:
        self.table = table
        self.depth = depth  # nesting level below the endpoint's records: the landing priority
        self.base = next(_refs) << _BLOCK_BITS
        self.native: frozenset[str] = frozenset()  # fields Arrow already holds in their type
        self.has_bad = False  # entries that are not objects

    def raw(self, ref: int) -> Any:
        raise NotImplementedError

    def count(self) -> int:
        """Records (objects) gathered."""
        raise NotImplementedError

    def to_arrow(self) -> pa.Table:
        raise NotImplementedError

    def _check_size(self, n: int) -> None:
        if n >= _BAD:
            raise ValueError(f"{n} {self.table.name} records in one staged batch: "
                             "stage fewer pages at a time")

    def _columns(self, columns: list[pa.Array], native: set[str], n_bad: int = 0,
                 extras: list[str | None] | None = None) -> pa.Table:
        fields = self.table.fields
        for i, f in enumerate(fields):
            if columns[i].type == pa.string() and f.type in _TIME_TYPES:
                typed = _as_time(columns[i], f.type)
                if typed is not None:
                    columns[i] = typed
                    native.add(f.api_name)
        self.native = frozenset(native)
        n = len(columns[0]) if columns else 0
        cols = {f"f_{f.api_name}": pa.concat_arrays([c, pa.nulls(n_bad, c.type)]) if n_bad else c
                for f, c in zip(fields, columns, strict=True)}
        cols["_extra"] = (_strings(extras + [None] * n_bad) if extras is not None
                          else pa.nulls(n + n_bad, pa.string()))
        base, bad = self.base, self.base + _BAD
        refs = np.concatenate([np.arange(base, base + n, dtype=np.int64),
                               np.arange(bad, bad + n_bad, dtype=np.int64)])
        cols["_ref"] = pa.Array.from_buffers(pa.int64(), n + n_bad, [None, pa.py_buffer(refs)])
        flags = np.packbits(np.arange(n + n_bad) >= n, bitorder="little")
        cols["_not_object"] = pa.Array.from_buffers(pa.bool_(), n + n_bad,
                                                    [None, pa.py_buffer(flags)])
        return pa.table(cols)

    def may_have_issues(self, arrow: pa.Table) -> bool:
        """False when every typed field came through Arrow and every key is present: the
        typed INSERT then finds nothing to quarantine, and no raw records are needed."""
        if self.has_bad or any(f.type is not FieldType.TEXT and f.api_name not in self.native
                               for f in self.table.fields):
            return True
        return any(arrow.column(f"f_{k}").null_count for k in self.table.primary_key)


class _DictRows(_Rows):
    """Rows from parsed JSON values (dicts), gathered record by record."""

    def __init__(self, table: Table, nested: tuple[Nested, ...], depth: int) -> None:
        super().__init__(table, depth)
        self.known = frozenset([*(f.api_name for f in table.fields), *(n.key for n in nested)])
        self.records: list[dict[str, Any]] = []
        self.bad: list[Any] = []  # entries that are not objects

    def raw(self, ref: int) -> Any:
        i = ref - self.base
        return self.records[i] if i < _BAD else self.bad[i - _BAD]

    def count(self) -> int:
        return len(self.records)

    def to_arrow(self) -> pa.Table:
        recs = self.records
        if self.table.aliases:  # legacy or alternative spellings land in the current columns
            for r in recs:
                for old, new in self.table.aliases:
                    if old in r:
                        value = r.pop(old)
                        r.setdefault(new, value)
        self._check_size(max(len(recs), len(self.bad)))
        self.has_bad = bool(self.bad)
        fields = self.table.fields
        try:  # C++ fast path: Arrow's JSON reader takes the values when each has its usual type
            struct = _read_lines([orjson.dumps(r) for r in recs], _struct_type(self.table))
            columns = [struct.field(i) for i in range(len(fields))]
            native = {f.api_name for f in fields if f.type in JSON_ARROW_TYPES}
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a stray type: every value as JSON text
            columns = [_strings([_text(r.get(f.api_name)) for r in recs]) for f in fields]
            native = set()
        known = self.known
        extras = [
            None if r.keys() <= known
            else orjson.dumps({k: v for k, v in r.items() if k not in known}).decode()
            for r in recs
        ]
        return self._columns(columns, native, len(self.bad), extras)


class _ArrowRows(_Rows):
    """Rows the strict reader already holds as struct arrays (one chunk per page): no unknown
    fields, no stray types, every entry an object. The chunks are handed to DuckDB as they
    are, never concatenated into one copy."""

    def __init__(self, table: Table, depth: int) -> None:
        super().__init__(table, depth)
        self.chunks: list[pa.StructArray] = []

    def count(self) -> int:
        return sum(map(len, self.chunks))

    def raw(self, ref: int) -> Any:
        i = ref - self.base
        for chunk in self.chunks:
            if i < len(chunk):
                return chunk[i].as_py()
            i -= len(chunk)
        raise IndexError(ref)

    def to_arrow(self) -> pa.Table:
        self._check_size(self.count())
        fields = self.table.fields
        columns: list[Any] = [pa.chunked_array([c.field(f.api_name) for c in self.chunks],
                                               JSON_ARROW_TYPES.get(f.type, pa.string()))
                              for f in fields]
        return self._columns(columns, {f.api_name for f in fields if f.type in JSON_ARROW_TYPES})


_UTC_MICROS = pa.timestamp("us", tz="UTC")  # DuckDB reads it as TIMESTAMPTZ
_TIME_TYPES = (FieldType.TIMESTAMP, FieldType.UNIX_SECONDS)


def _as_time(column: pa.Array, field_type: FieldType) -> pa.Array | None:
    """A text column of times as TIMESTAMPTZ values, when every value is in the form CADT
    normally sends (ISO 8601 with a zone; unix seconds as a number in range). None sends the
    column to the SQL conversion, which also reads the other forms and reports bad values."""
    if column.null_count == len(column):
        return pa.nulls(len(column), _UTC_MICROS)
    try:
        if field_type is FieldType.TIMESTAMP:
            return column.cast(_UTC_MICROS)
        seconds = column.cast(pa.float64())
    except pa.ArrowInvalid:
        return None
    in_range = pc.and_(pc.greater_equal(seconds, _f64(0)),
                       pc.less_equal(seconds, _f64(MAX_UNIX_SECONDS)))
    if not pc.all(in_range).as_py():
        return None
    micros = pc.round(pc.multiply(seconds, _f64(1_000_000)))
    return micros.cast(pa.int64()).cast(_UTC_MICROS)


# Arrow converts Python objects (`pa.array`, `pa.scalar`) only after importing pandas, which
# costs a sync process about a CPU-second; what the sync builds itself goes through buffers and
# the JSON reader instead.
def _f64(x: float) -> pa.Scalar:
    return pa.Array.from_buffers(pa.float64(), 1, [None, pa.py_buffer(np.array([x], float))])[0]


def _read_lines(lines: list[bytes], struct: pa.StructType) -> pa.StructArray:
    """JSON lines (one object each) as a struct array of `struct`'s fields (others ignored)."""
    if not lines:
        return pa.StructArray.from_arrays([pa.nulls(0, f.type) for f in struct],
                                          fields=list(struct))
    body = b"\n".join(lines)
    parsed = pj.read_json(
        io.BytesIO(body), read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 64),
        parse_options=pj.ParseOptions(explicit_schema=pa.schema(list(struct)),
                                      unexpected_field_behavior="ignore"))
    if parsed.num_rows != len(lines):
        raise pa.ArrowInvalid("JSON lines: row count differs")
    return pa.StructArray.from_arrays(
        [parsed.column(i).combine_chunks() for i in range(len(struct))], fields=list(struct))


def _strings(values: list[str | None]) -> pa.Array:
    """Text values (None for NULL) as an Arrow string array."""
    return _read_lines([orjson.dumps({"v": v}) for v in values],
                       pa.struct([("v", pa.string())])).field(0)


def _struct_type(table: Table) -> pa.StructType:
    """The Arrow shape of a well-typed record: the JSON types CADT sends for each field."""
    return pa.struct([(f.api_name, JSON_ARROW_TYPES.get(f.type, pa.string()))
                      for f in table.fields])


def _gather(catalog: Catalog, table: Table, nested: tuple[Nested, ...], records: Iterable[Any],
            out: dict[str, _Rows], depth: int = 0) -> None:
    rows = out.get(table.name)
    if rows is None:
        rows = out[table.name] = _DictRows(table, nested, depth)
    kids = [(n.key, n.many, catalog.table(n.table), n.children) for n in nested]
    good, bad = rows.records, rows.bad
    for rec in records:
        if rec.__class__ is not dict:
            if rec is not None:
                bad.append(rec)
            continue
        good.append(rec)
        for key, many, child_table, grandchildren in kids:
            child = rec.get(key)
            if child is None:
                continue
            if many:
                if child.__class__ is list and child:
                    _gather(catalog, child_table, grandchildren, child, out, depth + 1)
            elif child.__class__ is dict:
                _gather(catalog, child_table, grandchildren, (child,), out, depth + 1)


def _split_arrow(catalog: Catalog, table: Table, nested: tuple[Nested, ...],
                 records: pa.StructArray, out: dict[tuple[str, int], _ArrowRows],
                 depth: int = 0) -> None:
    """One page into `_ArrowRows` per table and depth: the records, then their children (list
    entries or single objects) flattened out of them, level by level."""
    if records.null_count:
        records = records.filter(records.is_valid())  # a null entry carries nothing
    if not len(records):
        return
    rows = out.get((table.name, depth))
    if rows is None:
        rows = out[table.name, depth] = _ArrowRows(table, depth)
    rows.chunks.append(records)
    for n in nested:
        kids = records.field(n.key)
        if n.many:
            kids = pc.list_flatten(kids)
        _split_arrow(catalog, catalog.table(n.table), n.children, kids, out, depth + 1)


def stage_pages(con: duckdb.DuckDBPyConnection, catalog: Catalog, table: Table,
                pages: list[Records], ctx: LandContext) -> int:
    """Land the records of several pages of `table`'s endpoint (children included) into
    staging. Returns the number of top-level records."""
    split: dict[tuple[str, int], _ArrowRows] = {}
    for records in pages:
        if isinstance(records, pa.StructArray):
            _split_arrow(catalog, table, table.nested, records, split)
    groups: list[_Rows] = list(split.values())
    gathered: dict[str, _Rows] = {}
    for records in pages:
        if not isinstance(records, pa.StructArray):
            _gather(catalog, table, table.nested, records, gathered)
    groups += [r for r in gathered.values() if r.records or r.bad]
    for rows in groups:
        arrow = rows.to_arrow()
        # register() refuses to run while an earlier execute()'s result is open; a trivial
        # fetched query closes it (DuckDB 2 Python API).
        con.execute("SELECT 1").fetchall()
        con.register("_arrow_in", arrow)
        try:
            land_ctx = LandContext(ctx.batch, ctx.source, ctx.prio + rows.depth)
            if all(f.type is FieldType.TEXT or f.api_name in rows.native
                   for f in rows.table.fields):
                _insert_native(con, catalog, rows.table, land_ctx)
            else:
                cols = ", ".join(
                    _q("f_" + f.api_name) if f.api_name in rows.native
                    else f"CAST({_q('f_' + f.api_name)} AS VARCHAR) AS {_q('f_' + f.api_name)}"
                    for f in rows.table.fields)
                _insert_typed(con, catalog, rows.table,
                              f"SELECT {cols}, _extra, _ref, _not_object, "
                              "NULL::VARCHAR AS _raw_text FROM _arrow_in", [], land_ctx,
                              native=rows.native)
        finally:
            con.unregister("_arrow_in")
        if rows.may_have_issues(arrow):
            _attach_raw(con, catalog, rows, ctx.batch)
    return sum(r.count() for r in groups if r.table is table and r.depth == 0)


def _attach_raw(con: duckdb.DuckDBPyConnection, catalog: Catalog, rows: _Rows,
                batch: str) -> None:
    """Give quarantined rows of this flush their raw record (rare, so done row by row)."""
    stg = staging_name(catalog, rows.table)
    refs = [r[0] for r in con.execute(
        f"SELECT _ref FROM {stg} WHERE _batch = ? AND _raw IS NULL AND len(_issues) > 0 "
        "AND _ref BETWEEN ? AND ?", [batch, rows.base, rows.base + (1 << _BLOCK_BITS) - 1]
    ).fetchall()]
    if refs:
        con.executemany(
            f"UPDATE {stg} SET _raw = ? WHERE _batch = ? AND _ref = ?",
            [(orjson.dumps(rows.raw(ref)).decode(), batch, ref) for ref in refs],
        )


# -- records given as JSON text in SQL (values from the audit feed) -----------------------------


def land_records_sql(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    table: Table,
    records_sql: str,
    params: list[object],
    ctx: LandContext,
) -> None:
    """Land records given by SQL (one JSON column r), e.g. audit
    `change` values. Each holds one DataLayer key, so nested arrays in them are not followed."""
    name = catalog.value_key  # (the feed's spelling of each field)
    spec = json.dumps({name(f.api_name): "VARCHAR" for f in table.fields})
    # nested keys (a split unit's value carries `issuance`, `labels`) name associations the
    # node serves from their own tables, not fields
    known = [name(f.api_name) for f in table.fields] + [n.key for n in table.nested]
    strip_known = _lit(json.dumps(dict.fromkeys(known)))
    known_sql = "[" + ", ".join(_lit(k) for k in known) + "]"
    fields = ", ".join(f"s.{_q(name(f.api_name))} AS {_q('f_' + f.api_name)}"
                       for f in table.fields)
    relation = f"""
        SELECT {fields},
               CASE WHEN len(list_filter(json_keys(r), lambda x: NOT list_contains({known_sql}, x)))
                         > 0 THEN json_merge_patch(r, {strip_known})::VARCHAR END AS _extra,
               NULL::BIGINT AS _ref, NOT is_object AS _not_object, r::VARCHAR AS _raw_text
        FROM (
            SELECT r, is_object,
                   CASE WHEN is_object THEN json_transform(r, '{spec}') END AS s
            FROM (SELECT r, starts_with(r::VARCHAR, '{{') AS is_object
                  FROM ({records_sql}) WHERE r IS NOT NULL AND r::VARCHAR <> 'null')
        )
    """
    _insert_typed(con, catalog, table, relation, params, ctx)


# -- the typed INSERT shared by both paths ------------------------------------------------------


def _typed(field_type: FieldType, v: str) -> str:
    """SQL that reads text `v` as the field's warehouse type (NULL when unreadable).

    The plain cast handles what CADT normally sends; the lenient forms (blanks, decimals in
    integer fields, SQLite-style timestamps) are only tried where it gives NULL."""
    if field_type is FieldType.TEXT:
        return v
    blank = f"nullif(trim({v}), '')"
    if field_type is FieldType.BIGINT:
        return (f"coalesce(TRY_CAST({v} AS BIGINT),"
                f" TRY_CAST(TRY_CAST({blank} AS DECIMAL(38, 6)) AS BIGINT))")
    if field_type is FieldType.DECIMAL:
        return f"TRY_CAST({blank} AS DECIMAL(38, 6))"
    if field_type is FieldType.DOUBLE:
        return f"TRY_CAST({blank} AS DOUBLE)"
    if field_type is FieldType.BOOLEAN:
        return f"TRY_CAST({blank} AS BOOLEAN)"
    if field_type is FieldType.TIMESTAMP:
        return (
            f"coalesce(TRY_CAST({v} AS TIMESTAMPTZ), TRY_CAST({blank} AS TIMESTAMPTZ),"
            f" try_strptime({blank}, '%Y-%m-%d %H:%M:%S.%g %z'))"
        )
    if field_type is FieldType.UNIX_SECONDS:
        d = f"TRY_CAST({blank} AS DOUBLE)"
        return f"CASE WHEN {d} BETWEEN 0 AND {MAX_UNIX_SECONDS} THEN to_timestamp({d}) END"
    if field_type is FieldType.JSON:
        return f"TRY_CAST({v} AS JSON)"
    raise ValueError(field_type)


def _insert_typed(con: duckdb.DuckDBPyConnection, catalog: Catalog, table: Table,
                  relation: str, params: list[object], ctx: LandContext,
                  native: frozenset[str] = frozenset()) -> None:
    """INSERT into staging from a relation with text columns f_<apiName>, _extra, _ref,
    _not_object and _raw_text (raw record, if the caller has it).

    Columns named in `native` already hold the warehouse type and are taken as they are."""
    typed = ", ".join(
        f"{_q('f_' + f.api_name) if f.api_name in native else _typed(f.type, _q('f_' + f.api_name))}"
        f" AS {_q('t_' + f.column)}" for f in table.fields
    )
    problems = [  # (condition, reason) per row; the reasons are only built where one holds
        (f"(nullif(trim({_q('f_' + f.api_name)}), '') IS NOT NULL AND {_q('t_' + f.column)} IS NULL)",
         f"{_lit(f.api_name + ': cannot read ')} || left({_q('f_' + f.api_name)}, 80) || "
         f"{_lit(' as ' + f.type.name)}")
        for f in table.fields
        if f.type is not FieldType.TEXT and f.api_name not in native
    ]
    problems += [
        (f"{_q('t_' + snake)} IS NULL", _lit("missing primary key " + api))
        for api, snake in zip(table.primary_key, table.key_columns, strict=True)
    ]
    any_problem = " OR ".join(cond for cond, _ in problems)
    reasons = ", ".join(f"CASE WHEN {cond} THEN {reason} END" for cond, reason in problems)
    out_cols = _out_columns(catalog, table, ctx, lambda f: _q("t_" + f.column))
    con.execute(
        f"""
        INSERT INTO {staging_name(catalog, table)} BY NAME
        SELECT {out_cols},
               _extra::JSON AS _extra,
               {_lit(ctx.source)} AS _source,
               issues AS _issues,
               CASE WHEN len(issues) > 0 THEN _raw_text END AS _raw,
               {_lit(ctx.batch)} AS _batch,
               {ctx.prio} AS _prio,
               _ref
        FROM (
            SELECT *, CASE WHEN _not_object THEN ['not a JSON object']
                           WHEN {any_problem}
                           THEN list_filter([{reasons}], lambda x: x IS NOT NULL)
                           ELSE []::VARCHAR[] END AS issues
            FROM (SELECT *, {typed} FROM ({relation}))
        )
        """,
        params,
    ).fetchall()  # consume the row count: DuckDB 2 refuses new work while a result is open


def _out_columns(catalog: Catalog, table: Table, ctx: LandContext,
                 value: Callable[[Field], str]) -> str:
    """The staging columns from `value(field)`; node-stamped ones NULL unless the rows come
    from the API (the node's own times exist only there)."""
    return ", ".join(
        f"{'NULL' if ctx.source != 'api' and f.api_name in catalog.node_stamped else value(f)}"
        f" AS {_q(f.column)}" for f in table.fields)


def _insert_native(con: duckdb.DuckDBPyConnection, catalog: Catalog, table: Table,
                   ctx: LandContext) -> None:
    """`_insert_typed` of `_arrow_in` when Arrow holds every field in its warehouse type (the
    normal case): nothing is cast, so the only problems are entries that are not objects and
    missing keys, and one flat SELECT does what the general INSERT's nested ones do (DuckDB
    binds it in a fraction of the time: a fixed cost of every staged table and batch)."""
    missing = [(f"{_q('f_' + api)} IS NULL", _lit("missing primary key " + api))
               for api in table.primary_key]
    any_missing = " OR ".join(cond for cond, _ in missing)
    reasons = ", ".join(f"CASE WHEN {cond} THEN {reason} END" for cond, reason in missing)
    out_cols = _out_columns(catalog, table, ctx, lambda f: _q("f_" + f.api_name))
    con.execute(
        f"""
        INSERT INTO {staging_name(catalog, table)} BY NAME
        SELECT {out_cols},
               _extra::JSON AS _extra,
               {_lit(ctx.source)} AS _source,
               CASE WHEN _not_object THEN ['not a JSON object']
                    WHEN {any_missing} THEN list_filter([{reasons}], lambda x: x IS NOT NULL)
                    ELSE []::VARCHAR[] END AS _issues,
               NULL::VARCHAR AS _raw,
               {_lit(ctx.batch)} AS _batch,
               {ctx.prio} AS _prio,
               _ref
        FROM _arrow_in
        """
    ).fetchall()


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
