"""The Dagster raw assets: real materializations through the same sync code as the CLI."""

from __future__ import annotations

import pytest
from dagster import AssetKey, DagsterInstance, EnvVar, materialize
from dagster._serdes import serialize_value

from cadt_sim import Simulator
from pipelines.definitions import defs
from pipelines.defs import gates
from pipelines.defs.raw_assets import cadt_v1_sync
from pipelines.defs.resources import CadtApiResource, WarehouseResource
from tests.support.truth import diff

KEY = "dagster-k3y-never-in-events"


def test_definitions_load_with_raw_dbt_and_serving_assets():
    keys = {k.to_user_string() for k in defs.get_repository_def().asset_graph.get_all_asset_keys()}
    assert {"cadt_v1/units", "cadt_v1/audit", "marts/fct_retirements",
            "serving/cadt_serving_db"} <= keys
    repo = defs.get_repository_def()
    assert {"cadt_sync_job", "cadt_refresh_job"} <= set(repo.job_names)
    assert {s.name for s in repo.sensor_defs} == {"cadt_registry_sensor", "cadt_automation"}
    assert [s.name for s in repo.schedule_defs] == ["cadt_refresh_schedule"]


@pytest.mark.parametrize("api_key", [KEY])
def test_materialize_raw_assets_twice_and_key_stays_out_of_events(tmp_path, monkeypatch, api_key):
    monkeypatch.setenv("CADT_API_KEY", api_key)
    db = tmp_path / "cadt.duckdb"
    with Simulator(seed=3, scale=1, api_key=api_key) as sim:
        resources = {
            "cadt_api": CadtApiResource(api_url=sim.url + "/api/v1", api_key=EnvVar("CADT_API_KEY")),
            "warehouse": WarehouseResource(database=str(db)),
        }
        instance = DagsterInstance.ephemeral()
        first = materialize([cadt_v1_sync], resources=resources, instance=instance)
        assert first.success
        units = next(m for m in first.asset_materializations_for_node("cadt_v1_sync")
                     if m.asset_key == AssetKey(["cadt_v1", "units"]))
        assert units.metadata["rows"].value == len(sim.truth("units"))
        checks = first.get_asset_check_evaluations()
        assert len(checks) == len(gates.CHECK_SPECS) and all(c.passed for c in checks)
        assert units.metadata["inserted"].value == len(sim.truth("units"))
        sim.activity("retire", count=3)
        second = materialize([cadt_v1_sync], resources=resources, instance=instance)
        assert second.success
        units = next(m for m in second.asset_materializations_for_node("cadt_v1_sync")
                     if m.asset_key == AssetKey(["cadt_v1", "units"]))
        assert units.metadata["updated"].value == 3
        assert diff(sim, db) == {}
        logs = instance.all_logs(first.run_id) + instance.all_logs(second.run_id)
        assert len(logs) > 20
        for entry in logs:
            assert api_key not in serialize_value(entry)
        assert api_key not in serialize_value(instance.get_run_by_id(first.run_id))


def test_workspace_loads_the_definitions_module():
    """What `make dev` loads (workspace.yaml -> pipelines.definitions), validated as the
    webserver would, without the superseded `dagster definitions validate` command."""
    from pathlib import Path

    import yaml
    from dagster import Definitions

    workspace = yaml.safe_load((Path(__file__).parents[2] / "workspace.yaml").read_text())
    [location] = workspace["load_from"]
    assert location["python_module"]["module_name"] == "pipelines.definitions"
    Definitions.validate_loadable(defs)
