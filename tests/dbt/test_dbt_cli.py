"""The runner's exit codes, docs generation, and the generated sources YAML."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import V2
from pipelines.transform import build, run_dbt
from pipelines.transform.sources_yaml import (
    mirror_sources_yaml_path,
    render_mirror_sources_yaml,
    render_sources_yaml,
    sources_yaml_path,
)

from .warehouse import build_warehouse

pytestmark = pytest.mark.xdist_group("dbt")


@pytest.mark.parametrize("catalog", [V1, V2], ids=["v1", "v2"])
def test_sources_yaml_matches_the_catalogue(catalog):
    assert sources_yaml_path(catalog).read_text(encoding="utf-8") == render_sources_yaml(catalog), (
        "regenerate with: .venv/bin/python -m pipelines.transform.sources_yaml"
    )
    mirror = mirror_sources_yaml_path().read_text(encoding="utf-8")
    assert mirror == render_mirror_sources_yaml(V1), (
        "regenerate with: .venv/bin/python -m pipelines.transform.sources_yaml"
    )
    assert "- name: record_changes" in mirror and "- name: recorded_at" in mirror


def test_v2_pick_list_tests_only_warn():
    """Pick-list values drift: the dictionary's lists are checked, never enforced."""
    text = render_sources_yaml(V2)
    assert text.count("- accepted_values:") > 10
    assert text.count("- accepted_values:") == text.count("severity: warn")
    assert "accepted_values" not in render_sources_yaml(V1)


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


def test_an_incremental_refresh_leaves_the_unit_level_tests_to_full_builds(tmp_path: Path):
    """`cadt-mirror build` adds the selector incremental_refresh only to a plain build over a
    warehouse whose marts were built before (never to --full-refresh or a selection)."""
    from pipelines.dbt_build import dbt_build_args, refresh_args

    db = tmp_path / "cadt.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE SCHEMA cadt_build")
    con.execute("CREATE TABLE cadt_build.consumed_syncs (model VARCHAR, sync_id VARCHAR, "
                "consumed_at TIMESTAMPTZ)")
    con.close()
    plain = dbt_build_args()
    assert refresh_args(db, plain) == plain  # nothing built yet: a full build, every test
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO cadt_build.consumed_syncs VALUES ('fct_units', 's1', now())")
    con.close()
    assert refresh_args(db, plain) == ["build", "--selector", "incremental_refresh"]
    for args in (dbt_build_args(full_refresh=True), dbt_build_args(select=["fct_units"]),
                 dbt_build_args(exclude=["fct_units"]), ["run"]):
        assert refresh_args(db, args) == args



def test_the_refresh_exclusions_spelt_for_the_cli_are_the_selector(tmp_path: Path):
    """A refresh narrowed to what changed spells the selector incremental_refresh as --exclude
    (REFRESH_EXCLUDE): over the whole project both choose the same nodes."""
    import subprocess

    from pipelines.dbt_build import REFRESH_EXCLUDE
    from pipelines.transform._runner import dbt_args, dbt_env, dbt_executable

    def listed(*selection: str) -> set[str]:
        cmd = [dbt_executable(), *dbt_args(["ls", "--resource-type", "all", "--output", "name",
                                            "--quiet", *selection], tmp_path / "target")]
        proc = subprocess.run(cmd, env=dbt_env(tmp_path / "w.duckdb"), capture_output=True,
                              text=True, check=False)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return set(proc.stdout.split())

    chosen = listed("--selector", "incremental_refresh")
    assert len(chosen) > 100
    assert listed("--select", "fqn:*", "--exclude", *REFRESH_EXCLUDE) == chosen
