"""Render the dbt `sources:` YAML for a catalogue (`_cadt_v1__sources.yml`).

The warehouse DDL is generated from the catalogue; so is this file, so table and column names
cannot drift between the sync and dbt. `tests/dbt/test_sources_yaml.py` regenerates it and fails
on any difference. Regenerate with:

    .venv/bin/python -m pipelines.transform.sources_yaml
"""

from __future__ import annotations

import json
from pathlib import Path

from pipelines.source.catalog import Catalog
from pipelines.warehouse.schema import MIRROR_COLUMNS

from ._paths import DBT_PROJECT_DIR

_ABSOLUTE_FRESHNESS = ("organizations", "pick_lists")


def _q(text: str) -> str:
    """A YAML scalar: JSON strings are valid YAML double-quoted strings."""
    return json.dumps(text, ensure_ascii=False)


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
        for col, sql_type, desc in MIRROR_COLUMNS:
            lines += [
                f"          - name: {col}",
                f"            data_type: {sql_type.lower()}",
                "            description: " + _q(f"Mirror column. {desc}"),
            ]
    return "\n".join(lines) + "\n"


def write_sources_yaml(catalog: Catalog) -> Path:
    path = sources_yaml_path(catalog)
    path.write_text(render_sources_yaml(catalog), encoding="utf-8")
    return path


if __name__ == "__main__":
    from pipelines.source.catalog_v1 import V1

    print(write_sources_yaml(V1))
