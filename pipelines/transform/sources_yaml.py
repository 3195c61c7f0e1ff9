"""Render the dbt `sources:` YAML for a catalogue (`_cadt_v1__sources.yml`, `_cadt_v2__sources.yml`)
and for the sync's bookkeeping tables that dbt reads (`_cadt_mirror__sources.yml`).

The warehouse DDL is generated from the catalogue; so are these files, so table and column names
cannot drift between the sync and dbt: the bookkeeping tables' columns are read from the DDL
itself (`ensure_schema` on an in-memory DuckDB). Columns whose dictionary entry names a pick
list (v2: "Pick list `name`." in the catalogue's description) get an `accepted_values` test
with the dictionary's values, at severity warn: pick-list values drift, and CADT never enforced
them on read. `tests/dbt/test_dbt_cli.py` regenerates every file and fails on any difference.
Regenerate with:

    .venv/bin/python -m pipelines.transform.sources_yaml
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb

from pipelines.source.catalog import Catalog
from pipelines.warehouse.schema import MIRROR_COLUMNS, MIRROR_SCHEMA, ensure_schema

from ._paths import DBT_PROJECT_DIR

_ABSOLUTE_FRESHNESS = ("organizations", "pick_lists")


def _q(text: str) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(text, ensure_ascii=False)


_PICK_LIST = re.compile(r"Pick list `([^`]+)`")


def _pick_lists(catalog: Catalog) -> dict[str, list[str]]:
    """The dictionary's pick lists of a catalogue (v2 only: v1's are tested against the live
    pick list in the staging models)."""
    if catalog.version != "v2":
        return {}
    from pipelines.source.catalog_v2 import picklists

    return picklists()


def _accepted_values(field, lists: dict[str, list[str]]) -> list[str]:
    """An `accepted_values` test (severity warn) for a text column with a dictionary pick list
    of at least two values (JSON array columns are left out: their values are arrays)."""
    found = _PICK_LIST.search(field.description or "")
    values = lists.get(found.group(1), []) if found else []
    if len(values) < 2 or field.type.sql_type != "VARCHAR":
        return []
    # dbt quotes each value as '<value>': a quote inside is doubled to stay valid SQL
    quoted = ", ".join(_q(v.replace("'", "''")) for v in values)
    return [
        "            data_tests:",
        "              - accepted_values:",
        "                  arguments:",
        f"                    values: [{quoted}]",
        "                  config:",
        "                    severity: warn",
    ]


def sources_yaml_path(catalog: Catalog) -> Path:
    return (
        DBT_PROJECT_DIR
        / "models"
        / "staging"
        / f"cadt_{catalog.version}"
        / (f"_cadt_{catalog.version}__sources.yml")
    )


def render_sources_yaml(catalog: Catalog) -> str:
    """The sources YAML text for `catalog` (deterministic)."""
    name = f"cadt_{catalog.version}"
    lines = [
        f"# GENERATED from pipelines/source/catalog_{catalog.version}.py by",
        "# pipelines/transform/sources_yaml.py. Do not edit by hand.",
        "version: 2",
        "",
        "sources:",
        f"  - name: {name}",
        f"    schema: {catalog.schema}",
        "    description: "
        + _q(
            f"The mirrored CADT {catalog.version} warehouse, written by the sync. Current-state "
            "tables hold exactly what the source serves (orphans included); `audit` is the "
            "per-organization change feed."
        ),
        "    loaded_at_field: _synced_at",
        "    config:",
        "      freshness:",
        "        warn_after: {count: 36, period: hour}",
        "        error_after: {count: 96, period: hour}",
        "    meta:",
        "      dagster:",
        "        group: " + name,
        "    tables:",
    ]
    lists = _pick_lists(catalog)
    for table in catalog.tables:
        keys = ", ".join(table.key_columns)
        lines += [
            f"      - name: {table.name}",
            "        description: "
            + _q(f"{table.description} Key: {keys}. API name: {table.api_name}."),
            "        meta:",
            "          dagster:",
            f'            asset_key: ["{name}", "{table.name}"]',
            "        columns:",
        ]
        for f in table.fields:
            desc = f.description or f"API field `{f.api_name}`."
            lines += [
                f"          - name: {f.column}",
                f"            data_type: {f.type.sql_type.lower()}",
                "            description: " + _q(desc),
            ]
            lines += _accepted_values(f, lists)
        for col, sql_type, desc in MIRROR_COLUMNS:
            lines += [
                f"          - name: {col}",
                f"            data_type: {sql_type.lower()}",
                "            description: " + _q(f"Mirror column. {desc}"),
            ]
    return "\n".join(lines) + "\n"


# The bookkeeping tables of the sync that dbt reads: the change log drives mart_changes and the
# incremental marts (dbt_project/macros/incremental.sql), per table and column.
MIRROR_SOURCES: dict[str, tuple[str, dict[str, str]]] = {
    "record_changes": (
        "Per record, what each sync changed, written in the organization's commit: op insert "
        "(key only: the row is in the current table), update (`changed`: {column: [before, "
        "after]} of the columns that changed, `_extra` included), delete (`changed`: the row as "
        "it was), snapshot (an organization's first snapshot: one row per table, `changed` = "
        "{\"rows\": n}, record_key NULL). Kept CADT_CHANGES_KEEP_DAYS days.",
        {
            "sync_id": "The sync run (cadt_mirror.sync_runs).",
            "catalog_version": "The catalogue (data model) version, e.g. v1.",
            "org_uid": "The organization whose commit logged it ('*' for organizations and "
                       "pick lists, which are not per organization).",
            "table_name": "The warehouse table (cadt_v1.<table_name>).",
            "record_key": "The record's key (several key columns joined with U+001F); NULL for "
                          "a snapshot row.",
            "op": "insert, update, delete or snapshot.",
            "changed": "update: {column: [before, after]}; delete: the row as it was; "
                       "snapshot: {\"rows\": n}; insert: NULL.",
            "recorded_at": "When the organization's commit logged it.",
        },
    ),
    "sync_changes": (
        "Per sync, organization and table: rows inserted, updated and deleted (the audit "
        "table's too, which record_changes does not list).",
        {
            "sync_id": "The sync run (cadt_mirror.sync_runs).",
            "org_uid": "The organization ('*' for organizations and pick lists).",
            "table_name": "The warehouse table.",
            "mode": "How the organization was read: snapshot, incremental, removed, ...",
        },
    ),
    "sync_runs": (
        "One row per sync run: start, end, status, error, requests, bytes, summary.",
        {"sync_id": "The sync run's id (`<UTC start>-<8 hex>`).",
         "started_at": "When the run started.", "status": "running, success, partial, "
         "failed, interrupted or abandoned."},
    ),
}
_TYPE_NAMES = {"TIMESTAMP WITH TIME ZONE": "timestamptz"}


def mirror_sources_yaml_path() -> Path:
    return DBT_PROJECT_DIR / "models" / "staging" / MIRROR_SCHEMA / f"_{MIRROR_SCHEMA}__sources.yml"


def render_mirror_sources_yaml(catalog: Catalog) -> str:
    """The sources YAML of the bookkeeping tables in MIRROR_SOURCES, columns as the DDL has them."""
    con = duckdb.connect()
    try:
        ensure_schema(con, catalog)
        columns = con.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = ? ORDER BY table_name, ordinal_position", [MIRROR_SCHEMA]
        ).fetchall()
    finally:
        con.close()
    lines = [
        "# GENERATED from the bookkeeping DDL in pipelines/warehouse/schema.py by",
        "# pipelines/transform/sources_yaml.py. Do not edit by hand.",
        "version: 2",
        "",
        "sources:",
        f"  - name: {MIRROR_SCHEMA}",
        f"    schema: {MIRROR_SCHEMA}",
        "    description: " + _q("The sync's own bookkeeping (written by the sync, read-only "
                                 "for dbt): what each sync changed."),
        "    tables:",
    ]
    for table, (description, docs) in MIRROR_SOURCES.items():
        lines += [f"      - name: {table}", "        description: " + _q(description),
                  "        columns:"]
        for t, col, sql_type in columns:
            if t == table:
                lines += [
                    f"          - name: {col}",
                    f"            data_type: {_TYPE_NAMES.get(sql_type, sql_type.lower())}",
                    "            description: " + _q(docs.get(col, "Bookkeeping column.")),
                ]
    return "\n".join(lines) + "\n"


def write_sources_yaml(*catalogs: Catalog) -> list[Path]:
    """Write each catalogue's sources file and the bookkeeping one; return their paths."""
    paths = []
    for catalog in catalogs:
        path = sources_yaml_path(catalog)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(render_sources_yaml(catalog), encoding="utf-8")
        paths.append(path)
    mirror = mirror_sources_yaml_path()
    mirror.parent.mkdir(parents=True, exist_ok=True)
    mirror.write_text(render_mirror_sources_yaml(catalogs[0]), encoding="utf-8")
    return [*paths, mirror]


if __name__ == "__main__":
    from pipelines.source.catalog_v1 import V1
    from pipelines.source.catalog_v2 import V2

    for written in write_sources_yaml(V1, V2):
        print(written)
