"""Reading the audit feed as a change log: the net effect of a window of generations.

For every DataLayer key touched in the window, the last event wins: INSERT (insert or update) or
DELETE. The feed names tables in two spellings (`project`/`projects`, `label_units`/`label_unit`,
...); the catalogue's `audit_names` map both. `pipelines.sync.reread` decides which records must
be re-read from the API (new ones: their node-local times exist only there); the rest are
rebuilt from the feed's own values, which is what the node itself builds its rows from.
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
        f'WHEN {_lit(t.name)} THEN v."{catalog.value_key(t.primary_key[0])}"'
        for t in catalog.current_state
    )
    return f"CASE tbl {whens} END"


def _parent_case(catalog: Catalog) -> str:
    """The key of the crawled record that nests the changed one (per `parent_key`)."""
    whens = " ".join(
        f'WHEN {_lit(t.name)} THEN v."{catalog.value_key(t.parent_key)}"'
        for t in catalog.current_state if catalog.parent_of(t) is not None
    )
    return f"CASE tbl {whens} END" if whens else "NULL::VARCHAR"


def _value_spec(catalog: Catalog) -> str:
    keys = {catalog.value_key(t.primary_key[0]) for t in catalog.current_state}
    keys |= {catalog.value_key(t.parent_key) for t in catalog.current_state if t.parent_key}
    return "{" + ", ".join(f'"{k}": "VARCHAR"' for k in sorted(keys)) + "}"


Window = tuple[str | None, int, int]  # (organization or None for any, after, upto)


def window_sql(windows: list[Window]) -> str:
    """SQL predicate over audit rows: generations (after, upto] of each organization."""
    parts = [(f"org_uid = {_lit(org)} AND " if org is not None else "")
             + f"generation > {int(after)} AND generation <= {int(upto)}"
             for org, after, upto in windows]
    return "(" + " OR ".join(f"({p})" for p in parts) + ")" if parts else "FALSE"


def build_events(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                 after_generation: int, upto_generation: int,
                 children_only: bool = False, windows: list[Window] | None = None) -> None:
    """Net events of generations (after, upto] from the staged audit rows of `batch`
    (`windows`: several organizations' feeds staged in one batch, each its own window).

    `children_only`: a snapshot re-reads every crawled record, so it needs the events of the
    nested tables only (for the rows the API no longer shows); skipping the rest skips parsing
    the bulk of a long history. `recreated`: the key was also deleted in the window, so the
    node ingested it afresh (new node-local times)."""
    audit = staging_name(catalog, catalog.table("audit"))
    only = ""
    if children_only:
        names = [a for t in catalog.current_state if not t.endpoint for a in t.audit_names]
        only = 'AND "table" IN (' + ", ".join(_lit(a) for a in names) + ")"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {events_table(batch)} AS
        WITH raw AS (
            SELECT {_table_case(catalog)} AS tbl, "table" AS audit_table, type, change,
                   created_at, generation, id
            FROM {audit}
            WHERE _batch = ? AND {window_sql(windows or [(None, after_generation,
                                                             upto_generation)])}
              AND type IN ('INSERT', 'DELETE') AND id IS NOT NULL {only}
        ), parsed AS (
            SELECT *, json_transform(TRY_CAST(change AS JSON), '{_value_spec(catalog)}') AS v
            FROM raw
        ), keyed AS (
            SELECT *, {_key_case(catalog)} AS k FROM parsed
        ), ranked AS (
            SELECT *,
                   bool_or(type = 'DELETE') OVER (PARTITION BY tbl, k) AS recreated,
                   row_number() OVER (PARTITION BY tbl, k ORDER BY generation DESC, id DESC) AS rn
            FROM keyed
        )
        SELECT tbl, audit_table, k, type, change, generation, id, created_at,
               type = 'INSERT' AND recreated AS recreated, {_parent_case(catalog)} AS parent
        FROM ranked WHERE rn = 1 AND tbl IS NOT NULL
        """,
        [batch],
    )


def land_from_feed(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                   crawled_too: bool = True) -> int:
    """Records whose last event is INSERT but which no read of this batch returned: land them
    from the feed's own value. Most are edits `reread.plan` found provably equal to what the
    node stores (source 'feed': the merge keeps their node-stamped columns from the stored
    row); the others are records the API no longer shows (children of a deleted project),
    or that it did not return although planned (they land as the feed has them and are
    `_source = 'audit'` rows). A record the window deleted and inserted again is new to the
    node (source 'fresh': no stored node-local time applies to it).

    `crawled_too=False` (a snapshot crawled every top-level record): child tables only."""
    events = events_table(batch)
    tables = [t for t in catalog.current_state if crawled_too or not t.endpoint]
    # the keys to land first, from keys alone (an anti-join per table): the values are only
    # read for those, so a large window's re-read records never pass through JSON again
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _from_feed AS " + " UNION ALL ".join(
            f"SELECT e.tbl, e.k, e.recreated FROM {events} e "
            f"WHERE e.tbl = {_lit(t.name)} AND e.type = 'INSERT' AND e.k IS NOT NULL "
            f"AND NOT EXISTS (SELECT 1 FROM {staging_name(catalog, t)} s "
            f"WHERE s._batch = ? AND s.{t.key_columns[0]} = e.k)"
            for t in tables),
        [batch] * len(tables)).fetchall()
    counts = con.execute("SELECT tbl, recreated, count(*) FROM _from_feed GROUP BY ALL"
                         ).fetchall()
    n = 0
    for name, recreated, count in counts:
        sql = (f"SELECT TRY_CAST(e.change AS JSON) AS r FROM {events} e "
               f"JOIN _from_feed f ON f.tbl = e.tbl AND f.k = e.k "
               f"WHERE e.tbl = ? AND f.recreated = ?")
        land_records_sql(con, catalog, catalog.table(name), sql, [name, recreated],
                         LandContext(batch, source="fresh" if recreated else "feed",
                                     prio=100))
        n += count
    con.execute("DROP TABLE _from_feed")
    return n


def deleted_keys_sql(batch: str, table_name: str) -> str:
    return (f"SELECT k FROM {events_table(batch)} "
            f"WHERE tbl = {_lit(table_name)} AND type = 'DELETE'")


def drop_events(con: duckdb.DuckDBPyConnection, batch: str) -> None:
    con.execute(f"DROP TABLE IF EXISTS {events_table(batch)}")


def quarantine_events(con: duckdb.DuckDBPyConnection, catalog: Catalog, batch: str,
                      sync_id: str, org_uid: str, after_generation: int,
                      upto_generation: int, windows: list[Window] | None = None,
                      keyless_deletes: bool = False) -> tuple[int, list[str]]:
    """Feed rows of the applied window we cannot apply: unknown table names, missing keys,
    unparsable values (`windows`: as in `build_events`; `org_uid` is then the report's).
    `keyless_deletes`: DELETE rows without a value are expected (v2: DataLayer sent none; the
    caller reconciles the table by count), not quarantined."""
    audit = staging_name(catalog, catalog.table("audit"))
    window = window_sql(windows or [(None, after_generation, upto_generation)])
    known = ", ".join(_lit(a) for t in catalog.tables for a in t.audit_names)
    ignored = ", ".join(_lit(a) for a in catalog.audit_ignore) or "''"
    unknown = [r[0] for r in con.execute(
        f"""SELECT DISTINCT "table" FROM {audit} WHERE _batch = ? AND {window}
            AND type IN ('INSERT','DELETE')
            AND "table" IS NOT NULL AND "table" NOT IN ({known}) AND "table" NOT IN ({ignored})""",
        [batch],
    ).fetchall()]
    n = 0
    if unknown:  # (the rows of the tables just found: a second scan of the feed finds no others)
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
          {"AND NOT (type = 'DELETE' AND change IS NULL)" if keyless_deletes else ""}
        """,
        [sync_id, catalog.version, org_uid],
    ).fetchone()[0]
    return n, unknown
