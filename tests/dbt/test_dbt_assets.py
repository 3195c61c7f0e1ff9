"""The dagster-dbt wiring: keys line up with the raw assets, tests become checks."""

from __future__ import annotations

import dagster as dg
import pytest

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


def test_dbt_assets_depend_on_every_raw_table_and_carry_checks(tmp_path):
    assets = build_dbt_assets(prepare_manifest(target_path=tmp_path))
    raw = {k for k in assets.dependency_keys if k.path[0] == "cadt_v1"}
    assert {k.path[1] for k in raw} >= {"units", "projects", "issuances", "audit", "unit_labels"}
    assert dg.AssetKey(["marts", "fct_retirements"]) in assets.keys
    assert any(
        spec.asset_key == dg.AssetKey(["marts", "dim_projects"]) for spec in assets.check_specs
    )
