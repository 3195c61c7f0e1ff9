"""Jobs, schedules and the serving-copy asset that ends every refresh."""

from pathlib import Path

from dagster import (
    AssetKey,
    AssetSelection,
    DefaultScheduleStatus,
    MaterializeResult,
    ScheduleDefinition,
    asset,
    define_asset_job,
)

from pipelines.defs.raw_assets import GROUP
from pipelines.defs.resources import WarehouseResource
from pipelines.warehouse.publish import publish_file


def serving_asset(deps: list[AssetKey]):
    @asset(key=AssetKey(["serving", "cadt_serving_db"]), group_name="serving", deps=deps,
           kinds={"duckdb"},
           description="Read-only copy of the warehouse for BI tools, replaced atomically after "
                       "each refresh (DuckDB allows no readers in other processes during a write).")
    def cadt_serving_db(warehouse: WarehouseResource) -> MaterializeResult:
        target = publish_file(Path(warehouse.database))
        return MaterializeResult(metadata={"path": str(target),
                                           "bytes": target.stat().st_size})

    return cadt_serving_db


sync_job = define_asset_job(
    "cadt_sync_job", selection=AssetSelection.groups(GROUP, "serving"),
    description="Incremental sync of every CADT v1 table into DuckDB, then publish the serving "
                "copy (the marts stay as the last refresh left them).",
)
refresh_job = define_asset_job(
    "cadt_refresh_job", selection=AssetSelection.all(),
    description="Sync, then dbt build (models + tests as asset checks), then publish the "
                "serving copy.",
)
refresh_schedule = ScheduleDefinition(
    job=refresh_job, cron_schedule="17 * * * *", default_status=DefaultScheduleStatus.STOPPED,
    description="Hourly refresh; a no-change sync costs two requests.",
)
