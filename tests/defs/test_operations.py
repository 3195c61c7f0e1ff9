"""How the definitions are operated: one writer, retries, freshness, settings, instance config."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from dagster import DagsterInstance, DefaultScheduleStatus
from dagster._core.instance.ref import InstanceRef

from cadt_sim import Simulator
from pipelines.definitions import defs
from pipelines.defs import policies
from pipelines.defs.jobs import refresh_schedule
from pipelines.defs.resources import CadtApiResource, WarehouseResource, default_resources

DAGSTER_YAML = Path(__file__).parents[2] / "pipelines" / "defs" / "dagster.yaml"


def _events(result) -> list[str]:
    return [e.event_type_value for e in result.all_events]


def test_instance_config_allows_one_writer_and_no_telemetry(tmp_path):
    (tmp_path / "dagster.yaml").write_text(DAGSTER_YAML.read_text())
    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path))) as instance:
        assert not instance.telemetry_enabled
        config = instance.get_concurrency_config()
        assert config.pool_config.default_pool_limit == 1
        assert config.pool_config.pool_granularity.value == "run"
        assert {"key": policies.WAREHOUSE_TAG, "limit": 1} in \
            config.run_queue_config.tag_concurrency_limits
        assert instance.run_retries_enabled


def test_every_writer_is_in_the_pool_and_every_run_carries_the_tag():
    ops = {a.node_def.name: a.node_def for a in defs.assets}
    assert {name: op.pool for name, op in ops.items()} == {
        "cadt_v1_sync": policies.POOL, "cadt_dbt_models": policies.POOL,
        "serving__cadt_serving_db": policies.POOL}
    assert ops["cadt_v1_sync"].retry_policy == policies.SYNC_RETRY
    repo = defs.get_repository_def()
    for job in ("cadt_sync_job", "cadt_refresh_job"):
        assert repo.get_job(job).tags.items() >= policies.RUN_TAGS.items()
    automation = repo.get_sensor_def("cadt_automation")
    assert automation.run_tags.items() >= policies.RUN_TAGS.items()


def test_freshness_policies_on_raw_tables_and_marts_only():
    graph = defs.get_repository_def().asset_graph
    fresh = {k.path[0] for k in graph.get_all_asset_keys()
             if graph.get(k).freshness_policy == policies.FRESHNESS}
    assert fresh == {"cadt_v1", "marts"}


def test_schedule_is_a_stopped_safety_net_with_a_configurable_cron(monkeypatch):
    assert refresh_schedule().default_status == DefaultScheduleStatus.STOPPED
    monkeypatch.setenv("CADT_REFRESH_CRON", "5 4 * * *")
    assert refresh_schedule().cron_schedule == "5 4 * * *"


def test_settings_come_from_the_environment_like_the_cli(monkeypatch, tmp_path):
    monkeypatch.setenv("CADT_API_URL", "http://127.0.0.1:31310")
    monkeypatch.setenv("CADT_CONCURRENCY", "7")
    monkeypatch.setenv("CADT_PAGE_SIZE", "250")
    api = default_resources()["cadt_api"].process_config_and_initialize()
    settings = WarehouseResource(database=str(tmp_path / "w.duckdb")).sync_settings(api)
    assert (settings.api_url, settings.concurrency, settings.page_size, settings.publish) == (
        "http://127.0.0.1:31310", 7, 250, False)


def test_transport_failures_are_retried_and_a_refused_key_is_not(make_defs, sim, db):
    api = CadtApiResource(api_url=sim.url, max_retries=0)  # no retries inside the client
    job = make_defs(cadt_api=api).resolve_job_def("cadt_sync_job")  # QUICK_RETRY: 1 s

    # The node answers 503 to everything at first; once it was asked, it recovers.
    sim.set_faults([{"route": "/v1/organizations", "kind": "5xx", "rate": 1.0, "status": 503}])

    def recover() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if sim.stats()["by_route"].get("/v1/organizations"):
                sim.clear_faults()
                return
            time.sleep(0.02)

    watcher = threading.Thread(target=recover)
    watcher.start()
    result = job.execute_in_process(instance=DagsterInstance.ephemeral())
    watcher.join()
    assert result.success
    assert _events(result).count("STEP_UP_FOR_RETRY") == 1

    with Simulator(seed=3, scale=1, api_key="right") as keyed:
        wrong_key = CadtApiResource(api_url=keyed.url, api_key="wrong", max_retries=0)
        refused = make_defs(cadt_api=wrong_key).resolve_job_def(
            "cadt_sync_job").execute_in_process(instance=DagsterInstance.ephemeral(),
                                                raise_on_error=False)
    assert not refused.success
    assert "STEP_UP_FOR_RETRY" not in _events(refused)
