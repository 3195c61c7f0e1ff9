"""The Dagster code location (loaded by workspace.yaml): raw CADT assets, dbt models, serving.

    make dev      # Dagster UI and daemon (sensor, schedule, automation) on http://127.0.0.1:3000
"""

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dagster import Definitions, RetryPolicy, in_process_executor

from pipelines.defs.jobs import refresh_job, refresh_schedule, sync_job
from pipelines.defs.policies import SYNC_RETRY
from pipelines.defs.raw_assets import build_sync_asset
from pipelines.defs.resources import default_resources
from pipelines.defs.sensors import cadt_automation, cadt_registry_sensor
from pipelines.defs.serving import build_serving_asset
from pipelines.transform.dbt_assets import build_dbt_assets, dbt_resource
from pipelines.warehouse.schema import MIRROR_SCHEMA


def make_definitions(resources: Mapping[str, Any] | None = None, manifest: Path | None = None,
                     sync_retry: RetryPolicy = SYNC_RETRY) -> Definitions:
    """The definitions over `resources` (default: from the environment), a dbt `manifest`
    (default: dbt_project/target/manifest.json, parsed when missing) and the sync step's
    retry policy."""
    dbt_models = build_dbt_assets(manifest)
    bookkeeping = sorted({k.path[-1] for k in dbt_models.dependency_keys
                          if k.path[0] == MIRROR_SCHEMA})  # read by dbt, written by the sync
    return Definitions(
        assets=[build_sync_asset(sync_retry, bookkeeping), dbt_models,
                build_serving_asset(list(dbt_models.keys))],
        jobs=[sync_job, refresh_job],
        schedules=[refresh_schedule()],
        sensors=[cadt_registry_sensor, cadt_automation],
        resources=dict(resources or {**default_resources(), "dbt": dbt_resource()}),
        executor=in_process_executor,
    )


defs = make_definitions()
