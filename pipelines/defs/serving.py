"""The serving copy BI tools read: published last, only when everything it depends on passed.

It depends on every raw table and every dbt asset, so in a run it comes after both, and a
failed sync, a failed blocking check or a failed dbt build skips it: readers keep the last good
copy. The copy is swapped in atomically (`publish_file`), and only when the raw tables or the
marts changed since the last one. Its metadata is the snapshot's own (`cadt_mirror.published`
in the copy, published.json): raw tables and the marts built on them, or raw tables alone
(after a sync-only run; the older marts are left out of the copy).
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dagster import (
    AssetExecutionContext,
    AssetKey,
    AssetsDefinition,
    DagsterInstance,
    MaterializeResult,
    MetadataValue,
    asset,
)

from pipelines.defs.policies import POOL, after_upstream
from pipelines.defs.raw_assets import RAW_KEYS, RAW_KEYS_V2
from pipelines.defs.resources import WarehouseResource
from pipelines.warehouse.builds import MartsBuild
from pipelines.warehouse.db import connect
from pipelines.warehouse.publish import (
    RAW_AND_MARTS,
    RAW_ONLY,
    publish_file,
    read_published,
    serving_path,
)

SERVING_KEY = AssetKey(["serving", "cadt_serving_db"])
__all__ = ["RAW_AND_MARTS", "RAW_ONLY", "SERVING_KEY", "build_serving_asset"]


def build_serving_asset(dbt_keys: Sequence[AssetKey]) -> AssetsDefinition:
    marts = [k for k in dbt_keys if k.path[0] == "marts"]

    @asset(key=SERVING_KEY, group_name="serving", deps=[*RAW_KEYS, *RAW_KEYS_V2, *dbt_keys],
           kinds={"duckdb"},
           pool=POOL, automation_condition=after_upstream(),
           description="Read-only copy of the warehouse for BI tools, swapped in atomically once "
                       "the run's gates passed (DuckDB allows no readers in other processes "
                       "during a write).")
    def cadt_serving_db(context: AssetExecutionContext,
                        warehouse: WarehouseResource) -> MaterializeResult:
        marts_at = _marts_built_at(context.instance, marts)
        target = serving_path(warehouse.path)
        previous = context.instance.get_latest_materialization_event(SERVING_KEY)
        unchanged = (previous is not None and target.exists()
                     and (marts_at or 0) <= previous.timestamp
                     and _state(target)["raw_changed_at"] == _state(warehouse.path)["raw_changed_at"])
        changed_at = _state(warehouse.path)["raw_changed_at"]
        current = marts_at is not None and (changed_at is None or marts_at >= changed_at)
        by = f"dagster run {context.run_id}"
        build = (MartsBuild(_invocation_id(context.instance, marts),
                            datetime.fromtimestamp(marts_at, UTC), None, by)
                 if current and marts_at is not None else None)
        if not unchanged:  # (a copy per no-change sync would only cost the disk a copy)
            publish_file(warehouse.path, marts=build, by=by)
        if not current:
            context.log.warning(f"the marts were built {_iso(marts_at)}, before the raw tables "
                                f"last changed: {target} holds the raw tables only; "
                                "cadt_refresh_job or automation rebuilds them")
        published = read_published(target) or {}
        state = _state(target)
        state.pop("raw_changed_at")
        return MaterializeResult(metadata={
            "path": MetadataValue.path(str(target)),
            "published": MetadataValue.bool(not unchanged),
            "bytes": MetadataValue.int(target.stat().st_size),
            "contents": MetadataValue.text(published.get("contents", RAW_ONLY)),
            "snapshot_id": MetadataValue.text(str(published.get("snapshot_id"))),
            "marts_build": MetadataValue.text(str(published.get("marts_build"))),
            "raw_changed_at": MetadataValue.text(_iso(changed_at)),
            "marts_built_at": MetadataValue.text(_iso(marts_at)),
            **state,
        })

    return cadt_serving_db


def _marts_built_at(instance: DagsterInstance, marts: Sequence[AssetKey]) -> float | None:
    """When the least recently built mart was built (None: some mart never was)."""
    events = instance.get_latest_materialization_events(marts)
    built = [e.timestamp for e in events.values() if e is not None]
    return min(built) if marts and len(built) == len(marts) else None


def _invocation_id(instance: DagsterInstance, marts: Sequence[AssetKey]) -> str | None:
    """The dbt invocation that built the marts (dagster-dbt records it on each)."""
    for event in instance.get_latest_materialization_events(marts).values():
        value = event and event.asset_materialization and event.asset_materialization.metadata.get(
            "invocation_id")
        if value is not None:
            return str(getattr(value, "value", value))
    return None


def _state(database: Path) -> dict:
    """From a warehouse or its copy: the node it mirrors, each organization's generation, and
    when a sync last changed a raw table (epoch seconds, None if never)."""
    con = connect(database, read_only=True)
    try:
        run = con.execute("SELECT api_url, finished_at FROM cadt_mirror.sync_runs "
                          "WHERE status IN ('success', 'partial') "
                          "ORDER BY finished_at DESC LIMIT 1").fetchall()
        gens = con.execute("SELECT coalesce(o.name, s.org_uid), s.generation "
                           "FROM cadt_mirror.sync_state s LEFT JOIN cadt_v1.organizations o "
                           "USING (org_uid) ORDER BY 1").fetchall()
        changed = con.execute("SELECT epoch(max(recorded_at)) FROM cadt_mirror.sync_changes"
                              ).fetchall()[0][0]
    finally:
        con.close()
    return {"node": MetadataValue.text(run[0][0] if run else "unknown"),
            "last_sync_finished_at": MetadataValue.text(str(run[0][1]) if run else "never"),
            "generations": MetadataValue.json(dict(gens)),
            "raw_changed_at": changed}


def _iso(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds") if ts else "never"
