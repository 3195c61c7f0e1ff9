"""DDL generated from the catalogue, plus the mirror's own bookkeeping tables.

Every catalogue table gets the API fields (snake_case, typed) followed by the mirror's own
columns, which all start with `_`. No PRIMARY KEY constraints: keys are enforced by the merge
logic and checked by tests, and DuckDB bulk loads are faster without ART indexes.
"""

from __future__ import annotations

import duckdb

from pipelines.source.catalog import Catalog, Table

MIRROR_SCHEMA = "cadt_mirror"

# Mirror-owned columns appended to every catalogue table.
MIRROR_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("_extra", "JSON", "Fields the catalogue does not know yet, as a JSON object (else NULL)."),
    ("_source", "VARCHAR", "'api' (a record the API shows: read from a list endpoint, or an edit of one applied from the change feed's value, which is what the node builds the row from) or 'audit' (a record only the change feed shows, e.g. a child of a deleted project: its node-local times may be NULL)."),
    ("_synced_at", "TIMESTAMPTZ", "When the mirror last wrote this row."),
    ("_sync_id", "VARCHAR", "The sync run that last wrote this row (see cadt_mirror.sync_runs)."),
)

MIRROR_TABLES_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {MIRROR_SCHEMA};
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.sync_runs (
    sync_id VARCHAR, catalog_version VARCHAR, api_url VARCHAR, mode VARCHAR,
    started_at TIMESTAMPTZ, finished_at TIMESTAMPTZ, status VARCHAR, error VARCHAR,
    requests BIGINT, bytes BIGINT, orgs_changed BIGINT, summary JSON
);
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.sync_changes (
    sync_id VARCHAR, catalog_version VARCHAR, org_uid VARCHAR, table_name VARCHAR, mode VARCHAR,
    inserted BIGINT, updated BIGINT, deleted BIGINT, recorded_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.sync_state (
    catalog_version VARCHAR, org_uid VARCHAR, registry_id VARCHAR, registry_hash VARCHAR,
    generation BIGINT, audit_rows BIGINT, last_audit_id BIGINT,
    synced_at TIMESTAMPTZ, sync_id VARCHAR, mode VARCHAR, verified_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.quarantine (
    sync_id VARCHAR, quarantined_at TIMESTAMPTZ, catalog_version VARCHAR, org_uid VARCHAR,
    table_name VARCHAR, record_key VARCHAR, reason VARCHAR, raw VARCHAR
);
-- per record: what each sync changed (op insert / update / delete, or one 'snapshot' row per
-- table for an organization's first snapshot); `changed`: {{column: [before, after]}} for an
-- update, the row as it was for a delete
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.record_changes (
    sync_id VARCHAR, catalog_version VARCHAR, org_uid VARCHAR, table_name VARCHAR,
    record_key VARCHAR, op VARCHAR, changed JSON, recorded_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.http_cache (
    url VARCHAR, etag VARCHAR, stored_at TIMESTAMPTZ
);
-- the CADT node this warehouse mirrors (one row; see state.node_root for what "same node" means)
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.node (
    api_url VARCHAR, governance_body VARCHAR, datamodel_version VARCHAR, api_version VARCHAR,
    recorded_at TIMESTAMPTZ, sync_id VARCHAR
);
-- a row marks a warehouse `cadt-mirror demo` made, the only kind it may overwrite
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.demo (
    created_at TIMESTAMPTZ, seed BIGINT, scale DOUBLE
);
-- the node a run switched away from (--switch-node / --full-refresh), else NULL
ALTER TABLE {MIRROR_SCHEMA}.sync_runs ADD COLUMN IF NOT EXISTS switched_from VARCHAR;
"""


def table_ddl(catalog: Catalog, table: Table, schema: str | None = None) -> str:
    cols = [f"{_q(f.column)} {f.type.sql_type}" for f in table.fields]
    cols += [f"{name} {sql_type}" for name, sql_type, _ in MIRROR_COLUMNS]
    return f"CREATE TABLE IF NOT EXISTS {schema or catalog.schema}.{table.name} (\n    " + (
        ",\n    ".join(cols) + "\n)"
    )


def _q(column: str) -> str:
    """Quote reserved words (`table`, `type`, ...) so generated SQL stays valid."""
    return f'"{column}"'


def ensure_schema(con: duckdb.DuckDBPyConnection, catalog: Catalog) -> None:
    """Create the catalogue's schema, every other known catalogue's (empty) tables and the mirror
    tables if absent (idempotent). The dbt marts read both data models, so a warehouse that
    mirrors only one of them still has the other's tables, empty (a v1-only node: `cadt_v2.*`)."""
    from pipelines.source.catalog_v1 import V1
    from pipelines.source.catalog_v2 import V2

    for cat in (catalog, *(c for c in (V1, V2) if c.schema != catalog.schema)):
        con.execute(f"CREATE SCHEMA IF NOT EXISTS {cat.schema}")
        for table in cat.tables:
            con.execute(table_ddl(cat, table))
    con.execute(MIRROR_TABLES_DDL)


def describe_contract(catalog: Catalog) -> str:
    """Markdown description of the warehouse contract (used by docs generation)."""
    lines = [f"## Schema `{catalog.schema}`", ""]
    origins: dict[str, list[str]] = {}
    for t in catalog.tables:
        for n in t.nested:
            origins.setdefault(n.table, []).append(f"`{t.endpoint}` records' `{n.key}`")
            for c in n.children:
                origins.setdefault(c.table, []).append(
                    f"`{t.endpoint}` records' `{n.key}[].{c.key}`")
    for t in catalog.tables:
        keys = ", ".join(t.key_columns)
        source = [f"`{t.endpoint}`"] if t.endpoint else []
        source += origins.get(t.name, [])
        if t.audit_names:
            source.append("audit feed `table` " + " / ".join(f"`{a}`" for a in t.audit_names))
        lines += [f"### `{catalog.schema}.{t.name}`", "", t.description, "", f"Key: `{keys}`. "
                  f"From: {'; '.join(source)}.", ""]
        lines += ["| column | type | API field |", "|---|---|---|"]
        lines += [f"| `{f.column}` | {f.type.sql_type} | `{f.api_name}` |" for f in t.fields]
        lines += [f"| `{n}` | {ty} | mirror: {d} |" for n, ty, d in MIRROR_COLUMNS]
        lines.append("")
    return "\n".join(lines)
