"""Land raw API pages into typed staging tables, entirely inside DuckDB.

Page bodies are appended to the `_raw_pages` temp table; `explode_pages` then parses them
with DuckDB's JSON reader (C++, multi-threaded), flattens nested child records as the catalogue
declares them, casts every field to its warehouse type and records per-row problems in `_issues`
(kept rows get NULL for the unreadable field; the raw record is kept for the quarantine). Python
never touches individual values, which is what keeps landing close to network speed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import duckdb

from pipelines.source.catalog import Catalog, FieldType, Nested, Table
from pipelines.warehouse.schema import MIRROR_COLUMNS, _q

# Staging is scratch: TEMP tables of the sync's connection (memory, spilling to the temp
# directory), never written to the warehouse file, gone with the process if it dies.
STAGING_CATALOG = "temp.main"
RAW_PAGES = f"{STAGING_CATALOG}._raw_pages"
STAGING_EXTRA_COLUMNS = (
    ("_issues", "VARCHAR[]"),
    ("_raw", "VARCHAR"),
    ("_batch", "VARCHAR"),
    ("_prio", "INTEGER"),
    ("_fallback_ts", "TIMESTAMPTZ"),
)
MAX_UNIX_SECONDS = 253402300799  # 9999-12-31


def ensure_staging(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Create staging tables (same columns as the targets + landing bookkeeping)."""
    con.execute(
        f"CREATE TEMP TABLE IF NOT EXISTS {RAW_PAGES} (batch VARCHAR, stream VARCHAR, seq BIGINT,"
        " keep BIGINT, unknown BOOLEAN, body BLOB)"
    )
    for t in catalog.tables:
        cols = [f"{_q(f.column)} {f.type.sql_type}" for f in t.fields]
        cols += [f"{n} {ty}" for n, ty, _ in MIRROR_COLUMNS]
        cols += [f"{n} {ty}" for n, ty in STAGING_EXTRA_COLUMNS]
        con.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {staging_name(catalog, t)} ({', '.join(cols)})"
        )


def staging_name(catalog: Catalog, table: Table) -> str:
    return f"{STAGING_CATALOG}.stg_{catalog.version}_{table.name}"


def clear_batch(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str) -> None:
    con.execute(f"DELETE FROM {RAW_PAGES} WHERE batch = ?", [batch])
    for t in catalog.tables:
        con.execute(f"DELETE FROM {staging_name(catalog, t)} WHERE _batch = ?", [batch])


def reset_staging(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Start from empty staging."""
    con.execute(f"DROP TABLE IF EXISTS {RAW_PAGES}")
    for t in catalog.tables:
        con.execute(f"DROP TABLE IF EXISTS {staging_name(catalog, t)}")
    ensure_staging(con, catalog)


def _spec(table: Table, nested: tuple[Nested, ...]) -> str:
    """json_transform structure: every field as text (lossless), nested keys as raw JSON."""
    spec = {f.api_name: "VARCHAR" for f in table.fields}
    for n in nested:
        spec[n.key] = "JSON"
    return json.dumps(spec)


def _typed(field_type: FieldType, v: str) -> str:
    """SQL that reads text `v` as the field's warehouse type (NULL when unreadable)."""
    if field_type is FieldType.TEXT:
        return v
    blank = f"nullif(trim({v}), '')"
    if field_type is FieldType.BIGINT:
        return f"TRY_CAST(TRY_CAST({blank} AS DECIMAL(38, 6)) AS BIGINT)"
    if field_type is FieldType.DOUBLE:
        return f"TRY_CAST({blank} AS DOUBLE)"
    if field_type is FieldType.BOOLEAN:
        return f"TRY_CAST({blank} AS BOOLEAN)"
    if field_type is FieldType.TIMESTAMP:
        return (
            f"coalesce(TRY_CAST({blank} AS TIMESTAMPTZ),"
            f" try_strptime({blank}, '%Y-%m-%d %H:%M:%S.%g %z'))"
        )
    if field_type is FieldType.UNIX_SECONDS:
        d = f"TRY_CAST({blank} AS DOUBLE)"
        return f"CASE WHEN {d} BETWEEN 0 AND {MAX_UNIX_SECONDS} THEN to_timestamp({d}) END"
    if field_type is FieldType.JSON:
        return f"TRY_CAST({v} AS JSON)"
    raise ValueError(field_type)


@dataclass(frozen=True)
class LandContext:
    batch: str
    source: str = "api"  # 'api' or 'audit'
    prio: int = 0  # lower wins when the same key lands twice (e.g. label via project and unit)


def _land_table(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    table: Table,
    nested: tuple[Nested, ...],
    records_sql: str,
    params: list[object],
    ctx: LandContext,
    depth: int = 0,
) -> None:
    """Type the records produced by `records_sql` (columns r JSON, fb TIMESTAMPTZ fallback time,
    unk BOOLEAN: may carry unknown keys) into staging,
    then recurse into the nested children the catalogue declares for this position."""
    work = f"_land_{depth}"
    # One parse per record: r stays raw (for the quarantine), s is every field as text. A record
    # that is not an object is recognised by its first character (from_json emits minified JSON).
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {work} AS "
        f"SELECT r, fb, unk, CASE WHEN is_object THEN json_transform(r, '{_spec(table, nested)}')"
        f" END AS s, CASE WHEN is_object AND unk THEN json_keys(r) END AS k, is_object "
        f"FROM (SELECT r, fb, unk, starts_with(r::VARCHAR, '{{') AS is_object FROM ({records_sql}) "
        f"WHERE r IS NOT NULL AND r::VARCHAR <> 'null')",
        params,
    )
    known = [f.api_name for f in table.fields] + [n.key for n in nested]
    known_sql = "[" + ", ".join(_lit(k) for k in known) + "]"
    strip_known = _lit(json.dumps(dict.fromkeys(known)))
    typed = ", ".join(f"{_typed(f.type, f's.{_q(f.api_name)}')} AS {_q('t_' + f.column)}"
                      for f in table.fields)
    checks = [
        f"CASE WHEN nullif(trim(s.{_q(f.api_name)}), '') IS NOT NULL AND {_q('t_' + f.column)} IS NULL "
        f"THEN {_lit(f.api_name + ': cannot read ')} || left(s.{_q(f.api_name)}, 80) || "
        f"{_lit(' as ' + f.type.name)} END"
        for f in table.fields
        if f.type is not FieldType.TEXT
    ]
    checks += [
        f"CASE WHEN {_q('t_' + snake)} IS NULL THEN {_lit('missing primary key ' + api)} END"
        for api, snake in zip(table.primary_key, table.key_columns, strict=True)
    ]
    out_cols = ", ".join(f"{_out(f.column, ctx.source)} AS {_q(f.column)}" for f in table.fields)
    con.execute(
        f"""
        INSERT INTO {staging_name(catalog, table)} BY NAME
        SELECT {out_cols},
               CASE WHEN len(extra) > 0 THEN json_merge_patch(r, {strip_known}) END AS _extra,
               {_lit(ctx.source)} AS _source,
               issues AS _issues,
               CASE WHEN len(issues) > 0 THEN r::VARCHAR END AS _raw,
               {_lit(ctx.batch)} AS _batch,
               {ctx.prio} AS _prio,
               fb AS _fallback_ts
        FROM (
            SELECT *, list_filter([{", ".join(checks)}], lambda x: x IS NOT NULL) AS issues
            FROM (
                SELECT r, fb, s, {typed},
                       list_filter(k, lambda x: NOT list_contains({known_sql}, x)) AS extra
                FROM {work} WHERE is_object
            )
        )
        """
    )
    # Records that are not JSON objects cannot be typed: quarantine them as they are.
    con.execute(
        f"""
        INSERT INTO {staging_name(catalog, table)} (_issues, _raw, _batch, _source, _prio)
        SELECT ['not a JSON object'], r::VARCHAR, {_lit(ctx.batch)}, {_lit(ctx.source)}, {ctx.prio}
        FROM {work} WHERE NOT is_object
        """
    )
    for n in nested:
        child = catalog.table(n.table)
        key = f"s.{_q(n.key)}"
        if n.many:
            sub = (f"SELECT unnest(from_json({key}, '[\"JSON\"]')) AS r, fb, unk FROM {work} "
                   f"WHERE is_object AND starts_with({key}::VARCHAR, '[')")
        else:
            sub = (f"SELECT {key} AS r, fb, unk FROM {work} "
                   f"WHERE is_object AND starts_with({key}::VARCHAR, '{{')")
        # Materialise before recursing: the recursion reuses deeper work-table names only.
        src = f"_src_{depth + 1}_{n.key}"
        con.execute(f"CREATE OR REPLACE TEMP TABLE {src} AS {sub}")
        child_ctx = LandContext(ctx.batch, ctx.source, ctx.prio + 1)
        _land_table(con, catalog, child, n.children, f"SELECT r, fb, unk FROM {src}", [],
                    child_ctx, depth + 1)
        con.execute(f"DROP TABLE {src}")
    con.execute(f"DROP TABLE {work}")


def explode_pages(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    table: Table,
    batch: str,
    stream: str,
    prio: int = 0,
) -> None:
    """Parse all raw pages of (batch, stream) into staging, then drop them."""
    records = (
        f"SELECT unnest(list_slice(from_json(decode(body), '{{\"data\": [\"JSON\"]}}').data,"
        " 1, keep)) AS r,"
        f" NULL::TIMESTAMPTZ AS fb, unknown AS unk FROM {RAW_PAGES} WHERE batch = ? AND stream = ?"
    )
    _land_table(con, catalog, table, table.nested, records, [batch, stream],
                LandContext(batch, "api", prio))
    con.execute(f"DELETE FROM {RAW_PAGES} WHERE batch = ? AND stream = ?", [batch, stream])


def land_records_sql(
    con: duckdb.DuckDBPyConnection,
    catalog: Catalog,
    table: Table,
    records_sql: str,
    params: list[object],
    ctx: LandContext,
) -> None:
    """Land records given by SQL (columns r JSON, fb TIMESTAMPTZ, unk BOOLEAN), e.g. audit
    `change` values.

    Audit values hold one DataLayer key each, so nested arrays inside them are not followed.
    """
    _land_table(con, catalog, table, (), records_sql, params, ctx)


def append_page(
    con: duckdb.DuckDBPyConnection, batch: str, stream: str, seq: int, keep: int, body: bytes,
    unknown: bool = True,
) -> None:
    """Queue one page body for `explode_pages`. `unknown=False` (the client checked every key
    against the catalogue) skips the per-record key scan that fills `_extra`."""
    con.execute(
        f"INSERT INTO {RAW_PAGES} VALUES (?, ?, ?, ?, ?, ?)",
        [batch, stream, seq, keep, unknown, body],
    )


def _out(column: str, source: str) -> str:
    """Column expression; node-local timestamps fall back to the ingest time `fb`.

    A CADT node strips `updatedAt` from incoming values and stamps its own ingest time, so for
    records rebuilt from the audit feed `updated_at` is that time, never the value's.
    """
    typed = _q("t_" + column)
    if column == "updated_at" and source == "audit":
        return f"coalesce(fb, {typed})"
    if column in ("created_at", "updated_at"):
        return f"coalesce({typed}, fb)"
    return typed


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"
