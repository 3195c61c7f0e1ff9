"""The raw CADT tables as Dagster assets, materialized together by one sync run.

The assets are produced by exactly the code `cadt-mirror sync` runs; each carries metadata of
the run: rows now in the table, rows inserted/updated/deleted, requests, generations.
"""


from collections.abc import Iterator

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetKey,
    AssetSpec,
    Config,
    Failure,
    MaterializeResult,
    MetadataValue,
    multi_asset,
)

from pipelines.defs.resources import CadtApiResource, WarehouseResource
from pipelines.progress import LogProgress
from pipelines.source.catalog_v1 import V1
from pipelines.sync import run_sync
from pipelines.warehouse.db import connect

GROUP = "cadt_v1_raw"


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
    )


RAW_SPECS = [_spec(t.name) for t in V1.tables]
KEY_CHECKS = [AssetCheckSpec("key_is_unique", asset=AssetKey([V1.schema, t.name]),
                             description=f"No two rows share ({', '.join(t.key_columns)}).")
              for t in V1.tables]


@multi_asset(specs=RAW_SPECS, check_specs=KEY_CHECKS, name="cadt_v1_sync", can_subset=False)
def cadt_v1_sync(context: AssetExecutionContext, config: SyncConfig, cadt_api: CadtApiResource,
                 warehouse: WarehouseResource) -> Iterator[MaterializeResult]:
    """Incremental sync of every CADT v1 table (full refresh on request)."""
    settings = warehouse.sync_settings(cadt_api, full_refresh=config.full_refresh)
    report = run_sync(settings, LogProgress(context.log))
    if report.status == "failed":
        raise Failure(description=f"CADT sync failed: {report.error}",
                      metadata={"sync_id": report.sync_id})
    if report.status == "partial":
        context.log.warning(f"some organizations failed: {report.error}")
    changes = report.changes_by_table()
    con = connect(settings.database, read_only=True)
    try:
        counts = {t.name: con.execute(f"SELECT count(*) FROM {V1.qualified(t.name)}").fetchall()[0][0]
                  for t in V1.tables}
        duplicates = {t.name: con.execute(
            f"SELECT count(*) FROM (SELECT {', '.join(t.key_columns)} FROM {V1.qualified(t.name)} "
            f"GROUP BY ALL HAVING count(*) > 1)").fetchall()[0][0] for t in V1.tables}
    finally:
        con.close()
    generations = {o.name or o.org_uid: f"{o.generation_from} -> {o.generation_to} ({o.mode})"
                   for o in report.orgs}
    for t in V1.tables:
        ins, upd, dele = changes.get(t.name, (0, 0, 0))
        yield MaterializeResult(
            asset_key=AssetKey([V1.schema, t.name]),
            metadata={
                "rows": MetadataValue.int(counts[t.name]),
                "inserted": MetadataValue.int(ins),
                "updated": MetadataValue.int(upd),
                "deleted": MetadataValue.int(dele),
                "requests": MetadataValue.int(report.requests),
                "sync_id": MetadataValue.text(report.sync_id),
                "generations": MetadataValue.json(generations),
            },
            check_results=[AssetCheckResult(
                asset_key=AssetKey([V1.schema, t.name]), check_name="key_is_unique",
                passed=duplicates[t.name] == 0,
                severity=AssetCheckSeverity.ERROR,
                metadata={"duplicate_keys": MetadataValue.int(duplicates[t.name])})],
        )
