"""Jobs and the safety-net schedule.

Both jobs run their steps in one process, one after another: every step writes the same DuckDB
file, so nothing could run in parallel anyway, and a process per step would only add seconds of
imports each.
"""

import os

from dagster import (
    AssetSelection,
    DefaultScheduleStatus,
    ScheduleDefinition,
    define_asset_job,
    in_process_executor,
)

from pipelines.defs.policies import RUN_TAGS
from pipelines.defs.raw_assets import GROUP, GROUP_V2
from pipelines.defs.serving import SERVING_KEY

DEFAULT_CRON = "17 */6 * * *"

sync_job = define_asset_job(
    "cadt_sync_job",
    selection=AssetSelection.groups(GROUP, GROUP_V2) | AssetSelection.assets(SERVING_KEY),
    executor_def=in_process_executor, tags=RUN_TAGS,
    description="Incremental sync of every CADT table of every data model the node serves (v1, "
                "v2), its gates, then the serving copy (raw tables only: the marts stay as the "
                "last build left them, and the copy says so).",
)
refresh_job = define_asset_job(
    "cadt_refresh_job", selection=AssetSelection.all(), executor_def=in_process_executor,
    tags=RUN_TAGS,
    description="Sync and its gates, dbt build (every dbt test an asset check), then the "
                "serving copy: published only when every blocking check passed.",
)


def refresh_schedule() -> ScheduleDefinition:
    """The safety net behind the sensor: a refresh every 6 hours ($CADT_REFRESH_CRON), stopped
    until switched on. It catches what the sensor cannot: a refresh that failed after the sensor
    moved its cursor, and the daily audit-tail check of organizations that never move."""
    return ScheduleDefinition(
        name="cadt_refresh_schedule", job=refresh_job,
        cron_schedule=os.environ.get("CADT_REFRESH_CRON") or DEFAULT_CRON,
        default_status=DefaultScheduleStatus.STOPPED,
        description="Refresh on a cron ($CADT_REFRESH_CRON, default every 6 hours); a no-change "
                    "sync costs two requests plus the completeness counts.",
    )
