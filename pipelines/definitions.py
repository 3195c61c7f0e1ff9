"""The Dagster code location (loaded by workspace.yaml): raw CADT assets, dbt models, serving.

    dagster dev -w workspace.yaml      # or: make dev
"""

from dagster import Definitions

from pipelines.defs.jobs import refresh_job, refresh_schedule, serving_asset, sync_job
from pipelines.defs.raw_assets import cadt_v1_sync
from pipelines.defs.resources import default_resources
from pipelines.transform.dbt_assets import build_dbt_assets, dbt_resource

dbt_models = build_dbt_assets()
serving = serving_asset(deps=list(dbt_models.keys))

defs = Definitions(
    assets=[cadt_v1_sync, dbt_models, serving],
    jobs=[sync_job, refresh_job],
    schedules=[refresh_schedule],
    resources={**default_resources(), "dbt": dbt_resource()},
)
