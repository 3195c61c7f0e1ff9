"""Dagster over a node that serves both data models: the same sync step mirrors v1 and v2
(`pipelines.sync.data_models`), the `cadt_v2/<table>` assets carry the v2 figures, and the
registry sensor sees v2 organizations move."""

from __future__ import annotations

import json

from dagster import AssetKey, DagsterInstance, build_sensor_context, materialize

from cadt_sim import Simulator
from pipelines.defs import gates
from pipelines.defs.raw_assets import GROUP_V2, RAW_KEYS_V2, cadt_v1_sync
from pipelines.defs.resources import CadtApiResource, WarehouseResource
from pipelines.defs.sensors import cadt_registry_sensor
from pipelines.source.catalog_v2 import V2
from tests.support.truth import diff


def _by_key(result) -> dict[AssetKey, dict]:
    return {m.asset_key: {k: v.value for k, v in m.metadata.items()}
            for m in result.asset_materializations_for_node("cadt_v1_sync")}


def test_one_sync_step_materializes_v1_and_v2(tmp_path, monkeypatch):
    monkeypatch.delenv("CADT_MIRROR_SERVING_DB", raising=False)
    monkeypatch.delenv("CADT_DATA_MODELS", raising=False)
    db = tmp_path / "cadt.duckdb"
    with Simulator(seed=21, scale=1, v2=True) as sim:
        resources = {"cadt_api": CadtApiResource(api_url=sim.url + "/api/v1", max_retries=2),
                     "warehouse": WarehouseResource(database=str(db))}
        instance = DagsterInstance.ephemeral()
        first = materialize([cadt_v1_sync], resources=resources, instance=instance)
        assert first.success
        meta = _by_key(first)
        assert set(RAW_KEYS_V2) <= set(meta)
        unit = meta[AssetKey(["cadt_v2", "unit"])]
        assert unit["rows"] == unit["inserted"] == len(sim.truth("unit", model="v2")) > 0
        assert unit["synced"] is True and unit["sync_status"] == "success"
        aef = meta[AssetKey(["cadt_v2", "aef_t2_authorizations"])]
        assert aef["rows"] == len(sim.truth("aef_t2_authorizations", model="v2")) > 0
        checks = first.get_asset_check_evaluations()
        assert len(checks) == len(gates.CHECK_SPECS) and all(c.passed for c in checks)
        assert diff(sim, db) == {} and diff(sim, db, catalog=V2) == {}

        sim.activity("v2_aef_actions", count=2)
        second = materialize([cadt_v1_sync], resources=resources, instance=instance)
        assert second.success
        actions = _by_key(second)[AssetKey(["cadt_v2", "aef_t3_actions"])]
        assert actions["rows"] == len(sim.truth("aef_t3_actions", model="v2"))
        assert diff(sim, db, catalog=V2) == {}
        assert {s.group_name for s in cadt_v1_sync.specs if s.key in set(RAW_KEYS_V2)} == {
            GROUP_V2}


def test_v2_tables_of_a_v1_only_node_are_materialized_empty(tmp_path, monkeypatch):
    monkeypatch.delenv("CADT_MIRROR_SERVING_DB", raising=False)
    db = tmp_path / "cadt.duckdb"
    with Simulator(seed=3, scale=0.5) as sim:
        resources = {"cadt_api": CadtApiResource(api_url=sim.url + "/api/v1", max_retries=2),
                     "warehouse": WarehouseResource(database=str(db))}
        result = materialize([cadt_v1_sync], resources=resources)
        assert result.success
        unit = _by_key(result)[AssetKey(["cadt_v2", "unit"])]
        assert unit["synced"] is False and unit["rows"] == 0
        assert "not served" in unit["sync_status"]


def test_sensor_sees_v2_organizations_move():
    with Simulator(seed=21, scale=0.5, v2=True) as sim:
        api = CadtApiResource(api_url=sim.url + "/api/v1", max_retries=1)
        first = cadt_registry_sensor(build_sensor_context(cursor=None,
                                                          resources={"cadt_api": api}))
        [_run] = first.run_requests
        hashes = json.loads(first.cursor)["hashes"]
        v2 = {o["org_uid"] for o in sim.truth("organizations", model="v2")}
        assert {f"v2:{o}" for o in v2} <= set(hashes)
        quiet = cadt_registry_sensor(build_sensor_context(cursor=first.cursor,
                                                          resources={"cadt_api": api}))
        assert not quiet.run_requests and "304" in quiet.skip_reason.skip_message
        sim.activity("v2_retire", count=1)
        moved = cadt_registry_sensor(build_sensor_context(cursor=first.cursor,
                                                          resources={"cadt_api": api}))
        [again] = moved.run_requests
        assert again.tags["cadt_mirror/changed_orgs"] == "1"
