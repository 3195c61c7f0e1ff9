"""The dagster-dbt wiring: keys line up with the raw assets, tests become checks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest

from pipelines.defs.policies import FRESHNESS, POOL
from pipelines.transform.dbt_assets import (
    CadtDbtTranslator,
    build_dbt_assets,
    prepare_manifest,
)

pytestmark = pytest.mark.xdist_group("dbt")


def test_translator_maps_sources_to_raw_asset_keys():
    props = {"resource_type": "source", "source_name": "cadt_v1", "name": "units"}
    assert CadtDbtTranslator().get_asset_key(props) == dg.AssetKey(["cadt_v1", "units"])


def test_translator_groups_models_by_folder():
    props = {
        "resource_type": "model",
        "schema": "marts",
        "name": "dim_projects",
        "fqn": ["cadt_mirror", "marts", "dim_projects"],
    }
    translator = CadtDbtTranslator()
    assert translator.get_asset_key(props) == dg.AssetKey(["marts", "dim_projects"])
    assert translator.get_group_name(props) == "marts"


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh `dbt parse` of the project, once for this module."""
    path = tmp_path_factory.mktemp("dbt_target")
    prepare_manifest(force=True, target_path=path)
    return path


def test_dbt_assets_depend_on_every_raw_table_and_carry_checks(target):
    assets = build_dbt_assets(target / "manifest.json")
    raw = {k for k in assets.dependency_keys if k.path[0] == "cadt_v1"}
    assert {k.path[1] for k in raw} >= {"units", "projects", "issuances", "audit", "unit_labels"}
    assert dg.AssetKey(["marts", "fct_retirements"]) in assets.keys
    assert any(
        spec.asset_key == dg.AssetKey(["marts", "dim_projects"]) for spec in assets.check_specs
    )


SINGULAR = {
    "assert_issued_equals_units_with_issuance": "fct_issuances",
    "assert_retirements_equal_retired_units": "fct_retirements",
    "assert_balances_add_up_to_issuance": "fct_credit_balances",
    "assert_no_unit_record_lost": "mart_article6_units",
    "assert_events_end_in_current_state": "fct_unit_status_events",
}


def test_every_dbt_test_is_an_asset_check_singular_ones_on_their_model(target):
    assets = build_dbt_assets(target / "manifest.json")
    checks = {spec.name: spec for spec in assets.check_specs}
    for name, model in SINGULAR.items():
        assert checks[name].asset_key == dg.AssetKey(["marts", model])
        assert checks[name].blocking  # error severity: a failure holds what follows
    nodes = json.loads((target / "manifest.json").read_text())["nodes"].values()
    # every test of a model is a check (none left to be logged as an observation); tests on
    # sources (the v2 pick-list warnings) are not: see CadtDbtTranslator
    tests = [n for n in nodes if n["resource_type"] == "test"
             and not all(d.startswith("source.") for d in n["depends_on"]["nodes"])]
    assert tests and len(checks) == len(tests)
    assert assets.node_def.pool == POOL
    specs = {spec.key: spec for spec in assets.specs}
    assert specs[dg.AssetKey(["marts", "dim_projects"])].freshness_policy == FRESHNESS
    # models follow the raw tables by automation; seeds change with the code only
    assert {s.group_name == "seeds" for s in specs.values() if s.automation_condition} == {False}
    assert all(s.automation_condition for s in specs.values() if s.group_name != "seeds")


def test_processes_starting_together_all_read_one_whole_manifest(tmp_path):
    """Two test workers (or the webserver and the daemon) load the definitions at once on a
    fresh clone: each must read a whole manifest, never one another process is writing."""
    code = ("import json, sys; from pipelines.transform.dbt_assets import prepare_manifest; "
            "print(len(json.loads(prepare_manifest(target_path=sys.argv[1]).read_bytes())))")
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(3)]
    outputs = [p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0], [err for _, err in outputs]
    assert len({out for out, _ in outputs}) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [".manifest.lock", "manifest.json"]
