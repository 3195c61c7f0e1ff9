"""The raw CADT tables as Dagster assets, materialized together by one sync, gated by checks.

The sync is exactly the code `cadt-mirror sync` runs (`pipelines.sync.data_models`): every data
model the node serves (CADT_DATA_MODELS, or the run config's `data_models`; default all), v1
into `cadt_v1/<table>` (group `cadt_v1_raw`), v2 into `cadt_v2/<table>` (group `cadt_v2_raw`),
one step. Each table's materialization carries the run's numbers (rows, inserted/updated/
deleted, requests, generations) and, for v1, the results of the gates in
`pipelines.defs.gates`, which decide whether anything downstream may use it. On a node without
v2 the `cadt_v2` tables are materialized too, as what they are: empty (`synced: false`), so
that nothing downstream waits for them.
"""

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import duckdb
from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    RetryPolicy,
    RetryRequested,
    multi_asset,
)

from pipelines.defs import gates, node
from pipelines.defs.policies import FRESHNESS, POOL, SYNC_RETRY
from pipelines.defs.resources import CadtApiResource, WarehouseResource
from pipelines.progress import LogProgress
from pipelines.source.catalog import Catalog
from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import V2
from pipelines.sync.data_models import DataModelsRun, models_setting, sync_data_models
from pipelines.sync.settings import SyncReport
from pipelines.warehouse.db import WarehouseBusyError, connect
from pipelines.warehouse.schema import MIRROR_SCHEMA

GROUP = "cadt_v1_raw"
GROUP_V2 = "cadt_v2_raw"
GROUPS = {V1.version: GROUP, V2.version: GROUP_V2}
RAW_KEYS = [AssetKey([V1.schema, t.name]) for t in V1.tables]
RAW_KEYS_V2 = [AssetKey([V2.schema, t.name]) for t in V2.tables]


class SyncConfig(Config):
    full_refresh: bool = False
    # v1, v2 or all; None: $CADT_DATA_MODELS, else all (every model the node serves)
    data_models: str | None = None


def _spec(table_name: str, catalog: Catalog = V1) -> AssetSpec:
    table = catalog.table(table_name)
    return AssetSpec(
        key=AssetKey([catalog.schema, table.name]),
        group_name=GROUPS[catalog.version],
        description=f"{table.description} (CADT {catalog.version} `{table.api_name}`; key: "
                    f"{', '.join(table.key_columns)})",
        kinds={"duckdb", "python"},
        metadata={"table": f"{catalog.schema}.{table.name}",
                  "endpoint": table.endpoint or "nested"},
        # v2 is not served by every node: no freshness promise for it (yet)
        freshness_policy=FRESHNESS if catalog is V1 else None,
    )


RAW_SPECS = [_spec(t.name) for t in V1.tables]
RAW_SPECS_V2 = [_spec(t.name, V2) for t in V2.tables]


def _mirror_spec(table: str) -> AssetSpec:
    return AssetSpec(key=AssetKey([MIRROR_SCHEMA, table]), group_name=GROUP, kinds={"duckdb"},
                     description=f"The sync's own bookkeeping table {MIRROR_SCHEMA}.{table}, "
                                 "written by every sync (dbt reads it).")


def is_transient(error: object) -> bool:
    """What a later attempt may not meet: the node unreachable, or another writer."""
    return isinstance(error, WarehouseBusyError) or node.unreachable(error)


def build_sync_asset(retry_policy: RetryPolicy = SYNC_RETRY,
                     mirror_tables: Sequence[str] = ()) -> AssetsDefinition:
    """The sync multi-asset; `retry_policy` says how patient to be with an unreachable node,
    `mirror_tables` which of the sync's bookkeeping tables (cadt_mirror.*) it also provides
    (the ones dbt reads, so that they are not left as external assets nobody materializes)."""

    @multi_asset(specs=[*RAW_SPECS, *RAW_SPECS_V2, *map(_mirror_spec, mirror_tables)],
                 check_specs=gates.CHECK_SPECS, name="cadt_v1_sync", can_subset=False,
                 pool=POOL, retry_policy=retry_policy)
    def cadt_v1_sync(context: AssetExecutionContext, config: SyncConfig,
                     cadt_api: CadtApiResource,
                     warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
        """Incremental sync of every CADT table of every data model the node serves (full
        refresh on request), then the gates."""
        try:
            yield from _sync(context, config, cadt_api, warehouse, retry_policy)
            rows = _rows(warehouse.path, {t: f"{MIRROR_SCHEMA}.{t}" for t in mirror_tables})
            for table, n in rows.items():
                yield MaterializeResult(asset_key=AssetKey([MIRROR_SCHEMA, table]),
                                        metadata={"rows": MetadataValue.int(n)})
        except (Failure, RetryRequested):
            raise
        except Exception as e:  # only what a later attempt may not meet goes to the policy
            if is_transient(e):
                raise
            raise Failure(description=f"{type(e).__name__}: {e}", allow_retries=False) from e

    return cadt_v1_sync


def _sync(context: AssetExecutionContext, config: SyncConfig, cadt_api: CadtApiResource,
          warehouse: WarehouseResource, retry_policy: RetryPolicy) -> Iterator[MaterializeResult]:
    settings = warehouse.sync_settings(cadt_api, full_refresh=config.full_refresh)
    models = models_setting(config.data_models, "data_models") if config.data_models \
        else models_setting()
    run = sync_data_models(settings, models, LogProgress(context.log),
                           on_start=lambda m, d: context.log.info(
                               f"{d.describe() if d else ''}; syncing data model {m}"))
    for report in run.reports.values():
        _raise_on_failure(context, report, retry_policy)
    report = run.report(V1.version)
    if report is None:
        raise Failure(description="no v1 sync in this run (data models: "
                                  f"{', '.join(run.reports) or 'none'}; "
                                  f"{'; '.join(f'{m}: {w}' for m, w in run.skipped.items())}); "
                                  "the cadt_v1 assets need one",
                      allow_retries=False)
    counts = asyncio.run(_node_counts(cadt_api))
    results = gates.evaluate(settings.database, report, counts)
    yield from _materializations(V1, settings.database, report, results)
    yield from _materializations(V2, settings.database, run.report(V2.version), {}, run)


def _materializations(catalog: Catalog, database: Path, report: SyncReport | None,
                      results: Mapping[str, Sequence], run: DataModelsRun | None = None
                      ) -> Iterator[MaterializeResult]:
    """One per table of `catalog`; `report` None: the model was not synced in this run (not
    served by the node, or not asked for): its tables are as they were (empty if never)."""
    changes = report.changes_by_table() if report else {}
    rows = _rows(database, {t.name: catalog.qualified(t.name) for t in catalog.tables})
    generations = {o.name or o.org_uid: f"{o.generation_from} -> {o.generation_to} ({o.mode})"
                   for o in (report.orgs if report else [])}
    why = (run.skipped.get(catalog.version, "not asked for") if run is not None else None)
    for t in catalog.tables:
        ins, upd, dele = changes.get(t.name, (0, 0, 0))
        metadata = {
            "rows": MetadataValue.int(rows[t.name]),
            "inserted": MetadataValue.int(ins),
            "updated": MetadataValue.int(upd),
            "deleted": MetadataValue.int(dele),
        }
        if report is not None:
            metadata.update({
                "requests": MetadataValue.int(report.requests),
                "sync_id": MetadataValue.text(report.sync_id),
                "sync_status": MetadataValue.text(report.status),
                "generations": MetadataValue.json(generations),
            })
        if catalog is not V1:
            metadata["synced"] = MetadataValue.bool(report is not None)
            if report is None:
                metadata["sync_status"] = MetadataValue.text(f"not synced: {why}")
        yield MaterializeResult(asset_key=AssetKey([catalog.schema, t.name]), metadata=metadata,
                                check_results=list(results.get(t.name, [])) or None)


cadt_v1_sync = build_sync_asset()


def _raise_on_failure(context: AssetExecutionContext, report: SyncReport,
                      retry_policy: RetryPolicy) -> None:
    """Fail the step for a failed sync: retried (SYNC_RETRY) only when the node was unreachable.

    Some organizations failing is a warning, unless all of them failed in transport and
    retries are left: then the step is retried (the others cost nothing the second time)."""
    if report.status in ("failed", "interrupted"):
        raise Failure(description=f"CADT sync {report.status}: {report.error}",
                      metadata={"sync_id": report.sync_id},
                      allow_retries=report.status == "failed" and is_transient(report.error))
    if report.status == "partial":
        failed = [o for o in report.orgs if o.mode == "failed"]
        if (all(is_transient(o.reason) for o in failed)
                and context.retry_number < retry_policy.max_retries):
            raise Failure(description=f"some organizations could not be read: {report.error}",
                          metadata={"sync_id": report.sync_id})
        context.log.warning(f"some organizations failed: {report.error}")


def _rows(database: Path, tables: Mapping[str, str]) -> dict[str, int]:
    """Rows of each {name: qualified table} (0 for a table the warehouse does not have)."""
    con = connect(database, read_only=True)
    try:
        out = {}
        for name, table in tables.items():
            try:
                out[name] = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
            except duckdb.CatalogException:
                out[name] = 0
        return out
    finally:
        con.close()


async def _node_counts(api: CadtApiResource) -> node.NodeCounts:
    async with api.client() as client:
        return await node.count(client)
