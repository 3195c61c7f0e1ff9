"""Dagster resources: where the CADT node is and where the warehouse lives.

Both read the environment through `EnvVar` when the variable is set, so the API key appears in
Dagster's UI and event log only as the name `CADT_API_KEY`, never as its value.
"""

import os

from dagster import ConfigurableResource, EnvVar

from pipelines.source.client import DEFAULT_API_URL
from pipelines.sync import SyncSettings
from pipelines.transform import DEFAULT_DATABASE
from pipelines.warehouse.db import DEFAULT_DB


class CadtApiResource(ConfigurableResource):
    """A CADT node (observer or your own node with an API key)."""

    api_url: str = DEFAULT_API_URL
    api_key: str | None = None
    concurrency: int = 4


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file."""

    database: str = DEFAULT_DB

    def sync_settings(self, api: CadtApiResource, full_refresh: bool = False) -> SyncSettings:
        # publish=False: in Dagster the serving asset publishes once, after dbt has built the
        # marts, so BI readers never see new raw tables beside the previous run's marts.
        return SyncSettings(api_url=api.api_url, api_key=api.api_key, database=self.database,
                            concurrency=api.concurrency, full_refresh=full_refresh,
                            publish=False)


def _env(name: str, default: str | None) -> str | EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else default


def default_resources() -> dict[str, ConfigurableResource]:
    return {
        "cadt_api": CadtApiResource(
            api_url=_env("CADT_API_URL", DEFAULT_API_URL),  # type: ignore[arg-type]
            api_key=_env("CADT_API_KEY", None),  # type: ignore[arg-type]
        ),
        "warehouse": WarehouseResource(
            # the default is the file dbt_resource() builds over, wherever dagster runs from
            database=_env("CADT_MIRROR_DB", str(DEFAULT_DATABASE)),  # type: ignore[arg-type]
        ),
    }
