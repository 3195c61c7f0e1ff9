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
    ("_source", "VARCHAR", "'api' (read from a list endpoint) or 'audit' (rebuilt from the change feed because the API no longer shows it, e.g. children of a deleted project)."),
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
CREATE TABLE IF NOT EXISTS {MIRROR_SCHEMA}.http_cache (
    url VARCHAR, etag VARCHAR, stored_at TIMESTAMPTZ
);
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
    """Create the catalogue's schema and the mirror tables if absent (idempotent)."""
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {catalog.schema}")
    for table in catalog.tables:
        con.execute(table_ddl(catalog, table))
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
