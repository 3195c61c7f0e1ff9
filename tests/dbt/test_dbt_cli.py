"""The runner's exit codes, docs generation, and the generated sources YAML."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.source.catalog_v1 import V1
from pipelines.transform import build, run_dbt
from pipelines.transform.sources_yaml import (
    mirror_sources_yaml_path,
    render_mirror_sources_yaml,
    render_sources_yaml,
    sources_yaml_path,
)

from .warehouse import build_warehouse

pytestmark = pytest.mark.xdist_group("dbt")


def test_sources_yaml_matches_the_catalogue():
    assert sources_yaml_path(V1).read_text(encoding="utf-8") == render_sources_yaml(V1), (
        "regenerate with: .venv/bin/python -m pipelines.transform.sources_yaml"
    )
    mirror = mirror_sources_yaml_path().read_text(encoding="utf-8")
    assert mirror == render_mirror_sources_yaml(V1), (
        "regenerate with: .venv/bin/python -m pipelines.transform.sources_yaml"
    )
    assert "- name: record_changes" in mirror and "- name: recorded_at" in mirror


def test_docs_generate_works(built_warehouse: Path, tmp_path: Path):
    assert run_dbt(["docs", "generate"], built_warehouse, target_path=tmp_path, capture=True) == 0
    assert (tmp_path / "catalog.json").exists()


def test_build_exits_non_zero_when_a_unit_is_duplicated(tmp_path: Path):
    db = build_warehouse(tmp_path / "cadt.duckdb")
    con = duckdb.connect(str(db))
    con.execute(
        "insert into cadt_v1.units select * from cadt_v1.units where warehouse_unit_id = 'U1'"
    )
    con.close()
    code = build(db, select="stg_cadt_v1__units", target_path=tmp_path / "target")
    assert code == 1
