"""Reading the audit feed as a change log: the net effect of a window of generations.

For every DataLayer key touched in the window, the last event wins: INSERT (insert or update) or
DELETE. The feed names tables in two spellings (`project`/`projects`, `label_units`/`label_unit`,
...); the catalogue's `audit_names` map both. Records visible through the API are re-read from it
(exact, node-local timestamps included); what the API no longer shows (children of a deleted
project) is rebuilt from the feed's own values.
"""

from __future__ import annotations

import hashlib

import duckdb

from pipelines.source.catalog import Catalog
from pipelines.warehouse.landing import LandContext, _lit, land_records_sql, staging_name
from pipelines.warehouse.schema import MIRROR_SCHEMA


def events_table(batch: str) -> str:
    """Per-batch name: orgs sync concurrently and their event sets must not collide."""
    return "_events_" + hashlib.sha1(batch.encode()).hexdigest()[:16]


def _table_case(catalog: Catalog) -> str:
    whens = " ".join(
        f"WHEN {_lit(a)} THEN {_lit(t.name)}" for t in catalog.tables for a in t.audit_names
    )
    return f'CASE "table" {whens} END'


def _key_case(catalog: Catalog) -> str:
    """The changed record's key, read from the one-pass parse `v` of its `change` value."""
    whens = " ".join(
        f"WHEN {_lit(t.name)} THEN v.{t.primary_key[0]}"
        for t in catalog.tables if t.audit_names
    )
    return f"CASE tbl {whens} END"


def _value_spec(catalog: Catalog) -> str:
    keys = {t.primary_key[0] for t in catalog.tables if t.audit_names}
    keys |= {"warehouseProjectId", "warehouseUnitId"}
    return "{" + ", ".join(f'"{k}": "VARCHAR"' for k in sorted(keys)) + "}"


def build_events(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                 after_generation: int, upto_generation: int,
                 children_only: bool = False) -> None:
    """Net events of generations (after, upto] from the staged audit rows of `batch`.

    `children_only`: a snapshot re-reads every project and unit, so it needs the events of the
    nested tables only (for the rows the API no longer shows); skipping the rest skips parsing
    the bulk of a long history."""
    audit = staging_name(catalog, catalog.table("audit"))
    only = ""
    if children_only:
        names = [a for t in catalog.tables if t.audit_names and not t.endpoint
                 for a in t.audit_names]
        only = 'AND "table" IN (' + ", ".join(_lit(a) for a in names) + ")"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {events_table(batch)} AS
        WITH raw AS (
            SELECT {_table_case(catalog)} AS tbl, "table" AS audit_table, type, change,
                   created_at, generation, id
            FROM {audit}
            WHERE _batch = ? AND generation > ? AND generation <= ?
              AND type IN ('INSERT', 'DELETE') AND id IS NOT NULL {only}
        ), parsed AS (
            SELECT *, json_transform(TRY_CAST(change AS JSON), '{_value_spec(catalog)}') AS v
            FROM raw
        ), keyed AS (
            SELECT *, {_key_case(catalog)} AS k FROM parsed
        ), ranked AS (
            SELECT *,
                   max(generation) FILTER (WHERE type = 'DELETE')
                       OVER (PARTITION BY tbl, k) AS last_delete,
                   row_number() OVER (PARTITION BY tbl, k ORDER BY generation DESC, id DESC) AS rn
            FROM keyed
        ), dated AS (
            SELECT *,
                   min(created_at) FILTER (WHERE type = 'INSERT'
                                           AND generation > coalesce(last_delete, -1))
                       OVER (PARTITION BY tbl, k) AS first_insert_at
            FROM ranked
        )
        SELECT tbl, audit_table, k, type, change, generation, id, created_at, first_insert_at,
               v.warehouseProjectId AS parent_project, v.warehouseUnitId AS parent_unit
        FROM dated WHERE rn = 1 AND tbl IS NOT NULL
        """,
        [batch, after_generation, upto_generation],
    )


def refetch_keys(con: duckdb.DuckDBPyConnection, catalog: Catalog,
                 batch: str) -> tuple[list[str], list[str]]:
    """Projects and units to re-read because they or one of their children changed."""
    return (_parents(con, catalog, batch, "projects", "warehouseProjectId", "parent_project"),
            _parents(con, catalog, batch, "units", "warehouseUnitId", "parent_unit"))


def _parents(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str, parent: str,
             link: str, link_column: str) -> list[str]:
    """Keys of `parent` records touched by an INSERT of themselves or of a child linked by
    `link` (children per the catalogue's `parent_key`)."""
    tables = [parent, *(t.name for t in catalog.tables if t.parent_key == link)]
    rows = con.execute(
        f"""
        SELECT DISTINCT p FROM (
            SELECT CASE WHEN tbl = {_lit(parent)} THEN k ELSE {link_column} END AS p
            FROM {events_table(batch)}
            WHERE type = 'INSERT' AND tbl IN ({", ".join(_lit(t) for t in tables)})
        ) WHERE p IS NOT NULL ORDER BY p
        """
    ).fetchall()
    return [r[0] for r in rows]


def land_uncovered(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str) -> int:
    """Child rows whose last event is INSERT but which no re-read returned: rebuild them from
    the feed's value (the node keeps such rows, e.g. children of a deleted project)."""
    events = events_table(batch)
    queries: dict[str, str] = {}
    for table in catalog.tables:
        if not table.audit_names or table.endpoint:  # top-level tables: the API is the truth
            continue
        pk = table.key_columns[0]
        queries[table.name] = (
            f"SELECT TRY_CAST(change AS JSON) AS r, first_insert_at AS fb, TRUE AS unk "
            f"FROM {events} "
            f"WHERE tbl = {_lit(table.name)} AND type = 'INSERT' AND k IS NOT NULL "
            f"AND k NOT IN (SELECT {pk} FROM {staging_name(catalog, table)} "
            f"WHERE _batch = ? AND {pk} IS NOT NULL)"
        )
    counts = con.execute(  # one statement to find the (usually few) tables that have some
        " UNION ALL ".join(f"SELECT {_lit(name)}, count(*) FROM ({sql})"
                           for name, sql in queries.items()),
        [batch] * len(queries)).fetchall()
    n = 0
    for name, count in counts:
        if count:
            land_records_sql(con, catalog, catalog.table(name), queries[name], [batch],
                             LandContext(batch, source="audit", prio=100))
            n += count
    return n


def deleted_keys_sql(batch: str, table_name: str) -> str:
    return (f"SELECT k FROM {events_table(batch)} "
            f"WHERE tbl = {_lit(table_name)} AND type = 'DELETE'")


def drop_events(con: duckdb.DuckDBPyConnection, batch: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {events_table(batch)}")


def quarantine_events(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                      sync_id: str, org_uid: str, after_generation: int,
                      upto_generation: int) -> tuple[int, list[str]]:
    """Feed rows of the applied window we cannot apply: unknown table names, missing keys,
    unparsable values."""
    audit = staging_name(catalog, catalog.table("audit"))
    window = f"generation > {int(after_generation)} AND generation <= {int(upto_generation)}"
    known = ", ".join(_lit(a) for t in catalog.tables for a in t.audit_names)
    ignored = ", ".join(_lit(a) for a in catalog.audit_ignore) or "''"
    unknown = [r[0] for r in con.execute(
        f"""SELECT DISTINCT "table" FROM {audit} WHERE _batch = ? AND {window}
            AND type IN ('INSERT','DELETE')
            AND "table" IS NOT NULL AND "table" NOT IN ({known}) AND "table" NOT IN ({ignored})""",
        [batch],
    ).fetchall()]
    n = con.execute(
        f"""
        INSERT INTO {MIRROR_SCHEMA}.quarantine
        SELECT ?, now(), ?, ?, 'audit', id::VARCHAR,
               'unknown audit table ' || "table" || ': change not applied', change
        FROM {audit} WHERE _batch = ? AND {window} AND type IN ('INSERT', 'DELETE')
          AND "table" NOT IN ({known}) AND "table" NOT IN ({ignored})
        """,
        [sync_id, catalog.version, org_uid, batch],
    ).fetchone()[0]
    n += con.execute(
        f"""
        INSERT INTO {MIRROR_SCHEMA}.quarantine
        SELECT ?, now(), ?, ?, tbl, id::VARCHAR,
               CASE WHEN TRY_CAST(change AS JSON) IS NULL THEN 'audit change is not valid JSON'
                    ELSE 'audit change has no primary key' END, change
        FROM {events_table(batch)} WHERE k IS NULL
        """,
        [sync_id, catalog.version, org_uid],
    ).fetchone()[0]
    return n, unknown
