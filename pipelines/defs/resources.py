"""Dagster resources: where the CADT node is, how to talk to it, and where the warehouse lives.

`default_resources()` wires each setting to its environment variable through `EnvVar` when the
variable is set, so the UI and the event log show the name `CADT_API_KEY`, never the key. Fields
left unset fall back to `SyncSettings.from_env`, so Dagster honours exactly the settings, defaults
and range checks of `cadt-mirror sync` (CADT_CONCURRENCY, CADT_PAGE_SIZE, CADT_VERIFY_EVERY_HOURS,
CADT_MIRROR_MEMORY_LIMIT, CADT_MIRROR_SERVING_DB, ...).
"""

import os
from pathlib import Path

from dagster import ConfigurableResource, EnvVar

from pipelines.source.client import CadtClient
from pipelines.sync import SyncSettings
from pipelines.transform import DEFAULT_DATABASE


class CadtApiResource(ConfigurableResource):
    """A CADT node (the public observer, or your own node with an API key).

    Unset fields (None) take the environment's value, else the CLI's default."""

    api_url: str | None = None
    api_key: str | None = None
    concurrency: int | None = None
    page_size: int | None = None
    max_retries: int | None = None
    timeout: float | None = None

    def settings(self, **overrides: object) -> SyncSettings:
        """Sync settings from these fields, the environment and `overrides` (checked; a bad
        value raises `SettingError` naming it)."""
        return SyncSettings.from_env(
            api_url=self.api_url, api_key=self.api_key, concurrency=self.concurrency,
            page_size=self.page_size, max_retries=self.max_retries, timeout=self.timeout,
            **overrides)

    def client(self, max_retries: int | None = None) -> CadtClient:
        """A client with the sync's settings (use as `async with`); `max_retries` overrides."""
        s = self.settings()
        return CadtClient(s.api_url, s.api_key, concurrency=s.concurrency, timeout=s.timeout,
                          max_retries=s.max_retries if max_retries is None else max_retries,
                          backoff_base=s.backoff_base)


class WarehouseResource(ConfigurableResource):
    """The DuckDB warehouse file (the serving copy sits next to it, or at
    CADT_MIRROR_SERVING_DB)."""

    database: str = str(DEFAULT_DATABASE)

    @property
    def path(self) -> Path:
        return Path(self.database).expanduser()

    def sync_settings(self, api: CadtApiResource, full_refresh: bool = False) -> SyncSettings:
        # publish=False: in Dagster the serving asset publishes, once the run's checks passed
        # and (in a refresh) dbt has built the marts.
        return api.settings(database=self.path, full_refresh=full_refresh, publish=False)


def _env(name: str, default: str | None) -> str | EnvVar | None:
    return EnvVar(name) if os.environ.get(name) else default


def _env_int(name: str) -> int | None:
    return EnvVar.int(name) if os.environ.get(name) else None  # type: ignore[return-value]


def default_resources() -> dict[str, ConfigurableResource]:
    return {
        "cadt_api": CadtApiResource(
            api_url=_env("CADT_API_URL", None),  # type: ignore[arg-type]
            api_key=_env("CADT_API_KEY", None),  # type: ignore[arg-type]
            concurrency=_env_int("CADT_CONCURRENCY"),
            page_size=_env_int("CADT_PAGE_SIZE"),
        ),
        "warehouse": WarehouseResource(
            # the default is the file dbt_resource() builds over, wherever dagster runs from
            database=_env("CADT_MIRROR_DB", str(DEFAULT_DATABASE)),  # type: ignore[arg-type]
        ),
    }
