"""Refresh by itself: a sensor on the node's registry hashes, and automation for the rest.

`cadt_registry_sensor` asks the node for `/v1/organizations` and `/v2/organizations` with
`If-None-Match` (a 304 costs nothing; a node without v2 answers 404 there, which counts as
"nothing of v2") and requests `cadt_refresh_job` only when some organization's registry hash
moved, or an organization came or went, in either data model. Its cursor is JSON: `{"hashes":
{orgUid: registryHash, "v2:<orgUid>": registry_hash}, "etag": ..., "etag_v2": ..., "seq": n}`. `cadt_automation` evaluates the dbt models' and the serving copy's automation
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
from pipelines.defs.raw_assets import GROUP, GROUP_V2
from pipelines.defs.resources import CadtApiResource
from pipelines.source.catalog_v2 import V2
from pipelines.source.client import CadtClient, CadtError, Response
from pipelines.sync.data_models import not_served

CHANGED_TAG = "cadt_mirror/changed_orgs"


@dataclass
class RegistryCursor:
    hashes: dict[str, str | None] = field(default_factory=dict)
    etag: str | None = None
    seq: int = 0  # refreshes requested so far: keeps run keys unique if hashes ever repeat
    etag_v2: str | None = None  # (cursors written before v2 have none)

    @classmethod
    def load(cls, raw: str | None) -> "RegistryCursor":
        return cls(**json.loads(raw)) if raw else cls()

    def dump(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def changed_orgs(before: dict[str, str | None], now: dict[str, str | None]) -> list[str]:
    """Organizations whose registryHash differs, appeared or disappeared."""
    return sorted(o for o in before.keys() | now.keys()
                  if o not in before or o not in now or before[o] != now[o])


V2_PREFIX = "v2:"  # v2 organizations' keys in the cursor (an upgraded org is in both maps)


async def _poll(api: CadtApiResource, etag: str | None,
                etag_v2: str | None = None) -> tuple[Response, Response | None]:
    """The v1 map, and the v2 map (None: the node serves no v2)."""
    async with api.client(max_retries=2) as client:  # a tick should be short; the next one retries
        return await node.get_organizations(client, etag), await _poll_v2(client, etag_v2)


async def _poll_v2(client: CadtClient, etag: str | None) -> Response | None:
    try:
        return await client.get(V2.table("organizations").endpoint or "", etag=etag)
    except CadtError as e:
        if not_served(e, V2.version):
            return None
        raise


def v2_hashes(data: object) -> dict[str, str | None]:
    """{"v2:<org_uid>": registry_hash} of the v2 organizations map (snake_case)."""
    if not isinstance(data, dict):
        return {}
    k = V2.spelling
    return {V2_PREFIX + str(o.get(k.org_uid) or uid):
            (o.get(k.registry_hash) if isinstance(o.get(k.registry_hash), str) else None)
            for uid, o in data.items() if isinstance(o, dict)}


INTERVAL = whole_number("CADT_SENSOR_INTERVAL_SECONDS",
                        os.environ.get("CADT_SENSOR_INTERVAL_SECONDS") or 300, 30)


@sensor(job=refresh_job, name="cadt_registry_sensor", minimum_interval_seconds=INTERVAL,
        default_status=DefaultSensorStatus.RUNNING,
        description="Requests cadt_refresh_job when an organization's registry hash moved "
                    "(one conditional request to /v1/organizations and one to "
                    "/v2/organizations per tick).")
def cadt_registry_sensor(context: SensorEvaluationContext,
                         cadt_api: CadtApiResource) -> SensorResult:
    cursor = RegistryCursor.load(context.cursor)
    try:
        resp, resp_v2 = asyncio.run(_poll(cadt_api, cursor.etag, cursor.etag_v2))
    except CadtError as e:
        if not node.unreachable(e):
            raise  # a wrong URL or key: the tick fails and shows why
        return SensorResult(skip_reason=SkipReason(f"node unreachable, next tick retries: {e}"))
    if resp_v2 is None:  # no v2 on the node: unchanged unless the cursor knew v2 organizations
        v2_same = not any(o.startswith(V2_PREFIX) for o in cursor.hashes)
    else:
        v2_same = resp_v2.not_modified
    if resp.not_modified and v2_same:
        return SensorResult(skip_reason=SkipReason("organizations unchanged (304)"))
    old_v1 = {o: h for o, h in cursor.hashes.items() if not o.startswith(V2_PREFIX)}
    old_v2 = {o: h for o, h in cursor.hashes.items() if o.startswith(V2_PREFIX)}
    hashes = old_v1 if resp.not_modified else node.registry_hashes(resp.data)
    if resp_v2 is None:
        hashes_v2: dict[str, str | None] = {}
    else:
        hashes_v2 = old_v2 if resp_v2.not_modified else v2_hashes(resp_v2.data)
    if not hashes and cursor.hashes:
        # a node that is restarting or resyncing can list nobody for a while
        return SensorResult(skip_reason=SkipReason(
            "the node lists no organizations; waiting for it before refreshing"))
    hashes = {**hashes, **hashes_v2}
    changed = changed_orgs(cursor.hashes, hashes)
    etag_v2 = resp_v2.etag if resp_v2 is not None else None
    if not changed:
        cursor.etag, cursor.etag_v2 = resp.etag, etag_v2
        return SensorResult(skip_reason=SkipReason("no registryHash moved"), cursor=cursor.dump())
    context.log.info(f"registryHash moved for {len(changed)} organization(s): {changed}")
    digest = hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()[:16]
    nxt = RegistryCursor(hashes=hashes, etag=resp.etag, seq=cursor.seq + 1, etag_v2=etag_v2)
    return SensorResult(
        run_requests=[RunRequest(run_key=f"registry-{nxt.seq}-{digest}",
                                 tags={**RUN_TAGS, CHANGED_TAG: str(len(changed))})],
        cursor=nxt.dump())


cadt_automation = AutomationConditionSensorDefinition(
    "cadt_automation", target=AssetSelection.all() - AssetSelection.groups(GROUP, GROUP_V2),
    run_tags=RUN_TAGS, default_status=DefaultSensorStatus.RUNNING, emit_backfills=False,
    description="Rebuilds the marts and the serving copy after the raw tables changed, once "
                "their blocking checks passed.")
