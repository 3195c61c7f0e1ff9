"""dagster-dbt wiring: the dbt models as assets downstream of the raw `cadt_v1/<table>` assets.

- `CadtDbtTranslator`: dbt sources `cadt_v1.<table>` -> asset key `["cadt_v1", "<table>"]` (the
  keys the sync's raw assets use); models -> `[<schema>, <model>]`, grouped by folder
  (`staging_cadt_v1`, `intermediate`, `marts`). Every dbt test becomes an asset check (singular
  tests name their model in `meta.dagster.ref`); error-severity tests are blocking.
- Every dbt model refreshes by declarative automation after the raw assets (`after_upstream`);
  marts carry the raw tables' freshness policy.
- `build_dbt_assets()`: the `@dbt_assets` definition (needs a manifest: `prepare_manifest()`),
  in the warehouse pool, over the file the `warehouse` resource names.
- `dbt_resource(database)`: the `DbtCliResource` pointing at dbt_project/ with CADT_MIRROR_DB set.
"""

import fcntl
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import dagster as dg
from dagster import AssetExecutionContext
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from pipelines.defs.policies import FRESHNESS, POOL, after_upstream
from pipelines.defs.resources import WarehouseResource

from ._paths import DBT_PROJECT_DIR, DEFAULT_DATABASE
from ._runner import dbt_env, dbt_executable, run_dbt

MANIFEST_PATH = DBT_PROJECT_DIR / "target" / "manifest.json"


class CadtDbtTranslator(DagsterDbtTranslator):
    """Keys and groups for the CADT dbt project. Tests on sources (the v2 pick-list
    warnings) stay dbt tests: as checks of the raw tables they would pull the dbt step into
    every job that selects those tables (the sync job)."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("schema") or "main"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "source":
            return dbt_resource_props["source_name"]
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn") or []
        # fqn = [project, folder..., model]; group = folders joined by "_"
        folders = fqn[1:-1]
        return "_".join(folders) if folders else "dbt"

    def get_automation_condition(
        self, dbt_resource_props: Mapping[str, Any]
    ) -> dg.AutomationCondition | None:
        # Seeds change with the code only; the first refresh run builds them.
        return after_upstream() if dbt_resource_props["resource_type"] == "model" else None

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: DbtProject | None
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        if spec.group_name == "marts":
            return spec.replace_attributes(freshness_policy=FRESHNESS)
        return spec


def prepare_manifest(
    database: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    target_path: str | os.PathLike[str] | None = None,
) -> Path:
    """Make sure a manifest exists (runs `dbt parse` when it is missing or `force`).

    Default location: dbt_project/target/manifest.json; `target_path` puts it elsewhere.
    Safe when several processes start at once (test workers, the webserver and the daemon):
    one parses under a lock while the others wait, and the manifest appears by an atomic
    rename, so no reader ever sees half a file.
    """
    directory = Path(target_path) if target_path else MANIFEST_PATH.parent
    manifest = directory / "manifest.json"
    if manifest.exists() and not force:
        return manifest
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".manifest.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if force or not manifest.exists():
            with tempfile.TemporaryDirectory(prefix=".parse-", dir=directory) as scratch:
                code = run_dbt(["parse", "--quiet"], database or DEFAULT_DATABASE,
                               capture=True, target_path=scratch)
                parsed = Path(scratch) / "manifest.json"
                if code != 0 or not parsed.exists():
                    raise RuntimeError(f"dbt parse failed (exit {code}); no manifest for {manifest}")
                os.replace(parsed, manifest)
    return manifest


def dbt_resource(database: str | os.PathLike[str] | None = None) -> DbtCliResource:
    """A DbtCliResource for dbt_project/ (profiles inside it).

    The profile reads `CADT_MIRROR_DB`, so this sets it (as an absolute path) for the dbt
    processes Dagster starts: to `database` when given, else to the value already in the
    environment, else to the repository's data/cadt.duckdb.
    """
    chosen = database or os.environ.get("CADT_MIRROR_DB") or DEFAULT_DATABASE
    os.environ["CADT_MIRROR_DB"] = dbt_env(chosen)["CADT_MIRROR_DB"]
    return DbtCliResource(
        project_dir=str(DBT_PROJECT_DIR),
        profiles_dir=str(DBT_PROJECT_DIR),
        dbt_executable=dbt_executable(),
    )


def build_dbt_assets(manifest: Path | None = None) -> dg.AssetsDefinition:
    """The dbt project as one multi-asset; `dbt build` runs models, seeds and tests (checks)."""
    manifest_path = manifest or prepare_manifest()

    @dbt_assets(
        manifest=manifest_path,
        dagster_dbt_translator=CadtDbtTranslator(),
        name="cadt_dbt_models",
        pool=POOL,
    )
    def cadt_dbt_models(
        context: AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ):
        with _warehouse_env(warehouse.path):  # dbt starts here, reading the profile's env
            invocation = dbt.cli(["build"], context=context)
        yield from invocation.stream()

    return cadt_dbt_models


@contextmanager
def _warehouse_env(database: Path) -> Iterator[None]:
    """CADT_MIRROR_DB set to `database` meanwhile, so dbt builds the file the sync wrote."""
    before = os.environ.get("CADT_MIRROR_DB")
    os.environ["CADT_MIRROR_DB"] = dbt_env(database)["CADT_MIRROR_DB"]
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("CADT_MIRROR_DB", None)
        else:
            os.environ["CADT_MIRROR_DB"] = before
