"""The registry sensor, evaluated with Dagster's sensor test context against the simulator."""

from __future__ import annotations

import json

from dagster import SensorResult, build_sensor_context

from pipelines.defs.policies import RUN_TAGS
from pipelines.defs.resources import CadtApiResource
from pipelines.defs.sensors import CHANGED_TAG, cadt_registry_sensor


def _tick(api: CadtApiResource, cursor: str | None) -> SensorResult:
    result = cadt_registry_sensor(build_sensor_context(cursor=cursor, resources={"cadt_api": api}))
    assert isinstance(result, SensorResult)
    return result


def test_sensor_requests_a_refresh_when_and_only_when_a_registry_hash_moved(sim):
    api = CadtApiResource(api_url=sim.url + "/api/v1", max_retries=1)

    first = _tick(api, None)  # nothing seen yet: every organization is new
    [run] = first.run_requests
    assert run.tags[CHANGED_TAG] == str(len(sim.truth("organizations")))
    assert run.tags.items() >= RUN_TAGS.items()
    cursor = first.cursor
    assert cursor and set(json.loads(cursor)["hashes"]) == {
        o["orgUid"] for o in sim.truth("organizations")}

    quiet = _tick(api, cursor)  # conditional request: 304
    assert not quiet.run_requests and "304" in quiet.skip_reason.skip_message
    assert quiet.cursor is None  # kept as it was

    no_etag = json.dumps({**json.loads(cursor), "etag": None})
    same = _tick(api, no_etag)  # a full answer, every hash as before
    assert not same.run_requests and same.skip_reason is not None

    moved = sim.activity("retire", count=1)
    changed = _tick(api, cursor)
    [again] = changed.run_requests
    assert again.tags[CHANGED_TAG] == "1" and again.run_key != run.run_key
    assert json.loads(changed.cursor)["hashes"][moved["orgUid"]] != \
        json.loads(cursor)["hashes"][moved["orgUid"]]

    after = _tick(api, changed.cursor)
    assert not after.run_requests and after.skip_reason is not None
