"""Refresh by itself: a sensor on the node's registry hashes, and automation for the rest.

`cadt_registry_sensor` asks the node for `/v1/organizations` with `If-None-Match` (a 304 costs
nothing) and requests `cadt_refresh_job` only when some organization's `registryHash` moved, or
an organization came or went. Its cursor is JSON: `{"hashes": {orgUid: registryHash}, "etag":
..., "seq": n}`. `cadt_automation` evaluates the dbt models' and the serving copy's automation
conditions, so a sync run from anywhere (sync job, UI) is followed by the marts and a new copy.
"""

import asyncio
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field

from dagster import (
    AssetSelection,
    AutomationConditionSensorDefinition,
    DefaultSensorStatus,
    RunRequest,
    SensorEvaluationContext,
    SensorResult,
    SkipReason,
    sensor,
)

from pipelines.config import whole_number
from pipelines.defs import node
from pipelines.defs.jobs import refresh_job
from pipelines.defs.policies import RUN_TAGS
from pipelines.defs.raw_assets import GROUP
from pipelines.defs.resources import CadtApiResource
from pipelines.source.client import CadtError, Response

CHANGED_TAG = "cadt_mirror/changed_orgs"


@dataclass
class RegistryCursor:
    hashes: dict[str, str | None] = field(default_factory=dict)
    etag: str | None = None
    seq: int = 0  # refreshes requested so far: keeps run keys unique if hashes ever repeat

    @classmethod
    def load(cls, raw: str | None) -> "RegistryCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def changed_orgs(before: dict[str, str | None], now: dict[str, str | None]) -> list[str]:
    """Organizations whose registryHash differs, appeared or disappeared."""
    return sorted(o for o in before.keys() | now.keys()
                  if o not in before or o not in now or before[o] != now[o])


async def _poll(api: CadtApiResource, etag: str | None) -> Response:
    async with api.client(max_retries=2) as client:  # a tick should be short; the next one retries
        return await node.get_organizations(client, etag)


INTERVAL = whole_number("CADT_SENSOR_INTERVAL_SECONDS",
                        os.environ.get("CADT_SENSOR_INTERVAL_SECONDS") or 300, 30)


@sensor(job=refresh_job, name="cadt_registry_sensor", minimum_interval_seconds=INTERVAL,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests cadt_refresh_job when an organization's registryHash moved "
                    "(one conditional request to /v1/organizations per tick).")
def cadt_registry_sensor(context: SensorEvaluationContext,
                         cadt_api: CadtApiResource) -> SensorResult:
    cursor = RegistryCursor.load(context.cursor)
    try:
        resp = asyncio.run(_poll(cadt_api, cursor.etag))
    except CadtError as e:
        if not node.unreachable(e):
            raise  # a wrong URL or key: the tick fails and shows why
        return SensorResult(skip_reason=SkipReason(f"node unreachable, next tick retries: {e}"))
    if resp.not_modified:
        return SensorResult(skip_reason=SkipReason("organizations unchanged (304)"))
    hashes = node.registry_hashes(resp.data)
    if not hashes and cursor.hashes:
        # a node that is restarting or resyncing can list nobody for a while
        return SensorResult(skip_reason=SkipReason(
            "the node lists no organizations; waiting for it before refreshing"))
    changed = changed_orgs(cursor.hashes, hashes)
    if not changed:
        cursor.etag = resp.etag
        return SensorResult(skip_reason=SkipReason("no registryHash moved"), cursor=cursor.dump())
    context.log.info(f"registryHash moved for {len(changed)} organization(s): {changed}")
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
    nxt = RegistryCursor(hashes=hashes, etag=resp.etag, seq=cursor.seq + 1)
    return SensorResult(
        run_requests=[RunRequest(run_key=f"registry-{nxt.seq}-{digest}",
                                 tags={**RUN_TAGS, CHANGED_TAG: str(len(changed))})],
        cursor=nxt.dump())


cadt_automation = AutomationConditionSensorDefinition(
    "cadt_automation", target=AssetSelection.all() - AssetSelection.groups(GROUP),
    run_tags=RUN_TAGS, default_status=DefaultSensorStatus.RUNNING, emit_backfills=False,
    description="Rebuilds the marts and the serving copy after the raw tables changed, once "
                "their blocking checks passed.")
