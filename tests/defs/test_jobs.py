"""Both jobs end to end against the simulator: real HTTP, real DuckDB, real dbt, real Dagster."""

from __future__ import annotations

import hashlib
from pathlib import Path

import duckdb
from dagster import (
    AssetCheckEvaluation,
    AssetCheckSeverity,
    AssetKey,
    AssetMaterialization,
    DagsterInstance,
    evaluate_automation_conditions,
)

from pipelines.defs.serving import RAW_AND_MARTS, RAW_ONLY, SERVING_KEY
from pipelines.transform.dbt_assets import prepare_manifest
from pipelines.warehouse.publish import serving_path

from .conftest import scalar


def _serving_meta(result) -> dict:
    [m] = [m for m in result.get_asset_materialization_events()
           if m.asset_key == SERVING_KEY]
    return {k: v.value for k, v in m.materialization.metadata.items()}


def _lose_units(db: Path) -> None:
    """Rows lost behind the sync's back: nothing upstream moved, so the sync changes nothing."""
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM cadt_v1.units WHERE warehouse_unit_id IN "
                "(SELECT warehouse_unit_id FROM cadt_v1.units ORDER BY 1 LIMIT 5)")
    con.close()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_sync_job_orders_serving_after_the_sync(sim, db, make_defs):
    defs = make_defs()
    parents = defs.get_repository_def().asset_graph.get(SERVING_KEY).parent_keys
    assert {AssetKey(["cadt_v1", "units"]), AssetKey(["marts", "dim_projects"])} <= parents
    job = defs.resolve_job_def("cadt_sync_job")
    instance = DagsterInstance.ephemeral()

    first = job.execute_in_process(instance=instance)
    assert first.success
    steps = [(e.event_type_value, e.step_key) for e in first.all_events
             if e.event_type_value in ("STEP_START", "STEP_SUCCESS")]
    assert steps == [("STEP_START", "cadt_v1_sync"), ("STEP_SUCCESS", "cadt_v1_sync"),
                     ("STEP_START", "serving__cadt_serving_db"),
                     ("STEP_SUCCESS", "serving__cadt_serving_db")]
    copy = serving_path(db)
    units = len(sim.truth("units"))
    assert scalar(copy, "SELECT count(*) FROM cadt_v1.units") == units
    assert _serving_meta(first)["contents"] == RAW_ONLY  # no marts were ever built
    checks = first.get_asset_check_evaluations()
    assert checks and all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]

    sim.activity("delete_units", count=3)
    second = job.execute_in_process(instance=instance)
    assert second.success
    assert scalar(copy, "SELECT count(*) FROM cadt_v1.units") == len(sim.truth("units")) < units
    drop = [c for c in second.get_asset_check_evaluations()
            if c.check_name == "no_unexplained_drop" and c.asset_key.path[-1] == "units"]
    assert drop[0].passed  # the deletions are the feed's own

    before = _digest(copy)
    quiet = job.execute_in_process(instance=instance)
    assert quiet.success and _serving_meta(quiet)["published"] is False
    assert _digest(copy) == before  # nothing moved: no new copy


def test_a_failing_blocking_check_keeps_the_last_good_copy(sim, db, make_defs):
    job = make_defs().resolve_job_def("cadt_sync_job")
    instance = DagsterInstance.ephemeral()
    assert job.execute_in_process(instance=instance).success
    copy = serving_path(db)
    before = _digest(copy)
    units = scalar(copy, "SELECT count(*) FROM cadt_v1.units")

    _lose_units(db)

    result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failed = {(c.asset_key.path[-1], c.check_name) for c in result.get_asset_check_evaluations()
              if not c.passed}
    assert {("units", "complete"), ("units", "no_unexplained_drop")} <= failed
    assert "serving__cadt_serving_db" not in {e.step_key for e in result.all_events
                                               if e.event_type_value == "STEP_START"}
    assert _digest(copy) == before
    assert scalar(copy, "SELECT count(*) FROM cadt_v1.units") == units


def test_refresh_job_builds_marts_then_publishes_and_automation_follows_a_sync(
        sim, db, make_defs, tmp_path):
    defs = make_defs(prepare_manifest(db, force=True, target_path=tmp_path / "target"))
    instance = DagsterInstance.ephemeral()

    refresh = defs.resolve_job_def("cadt_refresh_job").execute_in_process(instance=instance)
    assert refresh.success
    copy = serving_path(db)
    marts = scalar(db, "SELECT count(*) FROM marts.dim_projects")
    assert marts >= len(sim.truth("projects"))  # deleted projects stay, marked
    assert scalar(copy, "SELECT count(*) FROM marts.dim_projects") == marts
    assert scalar(copy, "SELECT count(*) FROM cadt_v1.units") == len(sim.truth("units"))
    assert _serving_meta(refresh)["contents"] == RAW_AND_MARTS
    evaluated = {c.check_name for c in refresh.get_asset_check_evaluations()}
    assert {"assert_issued_equals_units_with_issuance", "assert_retirements_equal_retired_units",
            "assert_balances_add_up_to_issuance", "assert_no_unit_record_lost",
            "assert_events_end_in_current_state"} <= evaluated  # checks, not observations

    # A sync elsewhere (the sync job) changes the raw tables: automation rebuilds the rest.
    quiet = evaluate_automation_conditions(defs, instance)
    assert quiet.total_requested == 0  # everything was just built
    sim.activity("new_projects", count=1)
    sync = defs.resolve_job_def("cadt_sync_job").execute_in_process(instance=instance)
    assert sync.success and _serving_meta(sync)["contents"] == RAW_ONLY
    tick = evaluate_automation_conditions(defs, instance, cursor=quiet.cursor)
    assert tick.get_num_requested(AssetKey(["marts", "dim_projects"])) == 1
    assert tick.get_num_requested(AssetKey(["cadt_v1", "units"])) == 0  # the sensor's job
    assert tick.get_num_requested(SERVING_KEY) == 0  # just published, by the sync job
    # once the marts are rebuilt (reported here instead of a second dbt build), a new copy
    graph = defs.get_repository_def().asset_graph
    dbt_keys = {k for k in graph.get_all_asset_keys()
                if k.path[0] not in ("cadt_v1", "cadt_mirror", "serving")}
    for key in dbt_keys:
        instance.report_runless_asset_event(AssetMaterialization(key))
    for check in graph.asset_check_keys:
        if check.asset_key in dbt_keys:
            instance.report_runless_asset_event(AssetCheckEvaluation(
                asset_key=check.asset_key, check_name=check.name, passed=True))
    rebuilt = evaluate_automation_conditions(defs, instance, cursor=tick.cursor)
    assert rebuilt.get_num_requested(SERVING_KEY) == 1

    # A sync whose units gate fails: the models reading units do not follow it, nor the copy
    # (which reads every raw table), while models of tables that passed do.
    _lose_units(db)
    sim.activity("edit_projects", count=1)
    failed = defs.resolve_job_def("cadt_sync_job").execute_in_process(
        instance=instance, raise_on_error=False)
    assert not failed.success
    held = evaluate_automation_conditions(defs, instance, cursor=rebuilt.cursor)
    [stg_units] = [k for k in graph.get_all_asset_keys() if k.path[-1] == "stg_cadt_v1__units"]
    [stg_projects] = [k for k in graph.get_all_asset_keys()
                      if k.path[-1] == "stg_cadt_v1__projects"]
    assert held.get_num_requested(stg_units) == 0
    assert held.get_num_requested(stg_projects) == 1
    assert held.get_num_requested(SERVING_KEY) == 0


def test_quarantine_warns_while_records_the_mirror_lost_block(sim, db, make_defs):
    """Malformed unit records: bad values are quarantined (a warning); records without a key
    cannot be landed at all, so units fall short of the node's count and nothing is published."""
    sim.set_faults([{"route": "/v1/units", "kind": "malformed", "rate": 1.0}], seed=5)
    result = make_defs().resolve_job_def("cadt_sync_job").execute_in_process(
        instance=DagsterInstance.ephemeral(), raise_on_error=False)
    failed = {c.check_name: c for c in result.get_asset_check_evaluations()
              if not c.passed and c.asset_key.path[-1] == "units"}
    assert failed["no_quarantine"].severity == AssetCheckSeverity.WARN
    assert failed["no_quarantine"].metadata["quarantined"].value > 0
    assert failed["complete"].severity == AssetCheckSeverity.ERROR
    assert not result.success and not serving_path(db).exists()
