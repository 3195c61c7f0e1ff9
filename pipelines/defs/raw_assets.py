"""The raw CADT tables as Dagster assets, materialized together by one sync, gated by checks.

The sync is exactly the code `cadt-mirror sync` runs. Each table's materialization carries the
run's numbers (rows, inserted/updated/deleted, requests, generations) and the results of the
gates in `pipelines.defs.gates`, which decide whether anything downstream may use it.
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
from pipelines.source.catalog_v1 import V1
from pipelines.sync import run_sync
from pipelines.sync.settings import SyncReport
from pipelines.warehouse.db import WarehouseBusyError, connect
from pipelines.warehouse.schema import MIRROR_SCHEMA

GROUP = "cadt_v1_raw"
RAW_KEYS = [AssetKey([V1.schema, t.name]) for t in V1.tables]


class SyncConfig(Config):
    full_refresh: bool = False


def _spec(table_name: str) -> AssetSpec:
    table = V1.table(table_name)
    return AssetSpec(
        key=AssetKey([V1.schema, table.name]),
        group_name=GROUP,
        description=f"{table.description} (CADT `{table.api_name}`; key: "
                    f"{', '.join(table.key_columns)})",
        kinds={"duckdb", "python"},
        metadata={"table": f"{V1.schema}.{table.name}", "endpoint": table.endpoint or "nested"},
        freshness_policy=FRESHNESS,
    )


RAW_SPECS = [_spec(t.name) for t in V1.tables]


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

    @multi_asset(specs=[*RAW_SPECS, *map(_mirror_spec, mirror_tables)],
                 check_specs=gates.CHECK_SPECS, name="cadt_v1_sync", can_subset=False,
                 pool=POOL, retry_policy=retry_policy)
    def cadt_v1_sync(context: AssetExecutionContext, config: SyncConfig,
                     cadt_api: CadtApiResource,
                     warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
        """Incremental sync of every CADT v1 table (full refresh on request), then the gates."""
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
    report = run_sync(settings, LogProgress(context.log))
    _raise_on_failure(context, report, retry_policy)
    counts = asyncio.run(_node_counts(cadt_api))
    results = gates.evaluate(settings.database, report, counts)
    changes = report.changes_by_table()
    rows = _rows(settings.database, {t.name: V1.qualified(t.name) for t in V1.tables})
    generations = {o.name or o.org_uid: f"{o.generation_from} -> {o.generation_to} ({o.mode})"
                   for o in report.orgs}
    for t in V1.tables:
        ins, upd, dele = changes.get(t.name, (0, 0, 0))
        yield MaterializeResult(
            asset_key=AssetKey([V1.schema, t.name]),
            metadata={
                "rows": MetadataValue.int(rows[t.name]),
                "inserted": MetadataValue.int(ins),
                "updated": MetadataValue.int(upd),
                "deleted": MetadataValue.int(dele),
                "requests": MetadataValue.int(report.requests),
                "sync_id": MetadataValue.text(report.sync_id),
                "sync_status": MetadataValue.text(report.status),
                "generations": MetadataValue.json(generations),
            },
            check_results=results[t.name],
        )


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
