"""The HTTP client against real HTTP, and landing of responses captured from a real CADT server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from pipelines.source.catalog_v1 import V1
from pipelines.source.client import CadtClient, CadtError, split_base_url
from pipelines.warehouse import landing

SAMPLES = Path(__file__).parents[1] / "sim" / "samples"


@pytest.mark.parametrize(("url", "root"), [
    ("http://h:31310", "http://h:31310"),
    ("http://h:31310/", "http://h:31310"),
    ("http://h:31310/v1", "http://h:31310"),
    ("https://observer.climateactiondata.org/api/v1", "https://observer.climateactiondata.org/api"),
    ("https://observer.climateactiondata.org/api/", "https://observer.climateactiondata.org/api"),
])
def test_base_url_with_or_without_api_prefix(url, root):
    assert split_base_url(url) == root


def test_base_url_must_be_http():
    with pytest.raises(ValueError, match="not an http"):
        split_base_url("ftp://x")


def _get(url: str, path: str, **kw):
    async def go():
        async with CadtClient(url, backoff_base=0.01, **kw) as c:
            return await c.get(path, [("page", 1), ("limit", 5)]), c.counters
    return asyncio.run(go())


def test_client_retries_then_gives_a_clear_error(sim):
    sim.set_faults([{"route": "/v1/units", "kind": "5xx", "status": 502, "rate": 1.0}])
    with pytest.raises(CadtError, match=r"/v1/units: giving up after 3 attempts; last error: HTTP 502"):
        _get(sim.url, "/v1/units", max_retries=2)


def test_client_honours_retry_after_and_recovers(sim):
    sim.set_faults([{"route": "/v1/units", "kind": "429", "retry_after": 0, "rate": 0.5}], seed=1)
    for _ in range(5):
        resp, _ = _get(sim.url, "/v1/units", max_retries=20)
        assert resp.status == 200 and len(resp.data["data"]) == 5
    assert sim.stats()["by_route"]["/v1/units"] > 5  # some 429s were answered and retried


def test_client_reports_validation_errors_without_retrying(sim):
    async def go():
        async with CadtClient(sim.url) as c:
            await c.get("/v1/units", [("page", 1), ("limit", 5), ("since", "2025")])
    with pytest.raises(CadtError, match=r'HTTP 400: Data Validation error: "since" is not allowed'):
        asyncio.run(go())
    assert sim.stats()["by_route"]["/v1/units"] == 1


def test_conditional_requests_return_304(sim):
    async def go():
        async with CadtClient(sim.url) as c:
            first = await c.get("/v1/organizations")
            second = await c.get("/v1/organizations", etag=first.etag)
            return first, second, c.counters
    first, second, counters = asyncio.run(go())
    assert first.status == 200 and first.etag
    assert second.not_modified and counters.not_modified == 1 and second.body == b""


def test_captured_real_responses_land_with_their_children(staging_con):
    con = staging_con
    for stream, name in (("projects", "62-final-projects.json"), ("units", "62-final-units.json"),
                         ("audit", "62-final-audit-all.json")):
        records = json.loads((SAMPLES / name).read_text())["data"]
        landing.stage_pages(con, V1, V1.table(stream), [records], landing.LandContext("b"))
    projects = json.loads((SAMPLES / "62-final-projects.json").read_text())["data"]
    units = json.loads((SAMPLES / "62-final-units.json").read_text())["data"]

    def n(table: str) -> int:
        return con.execute(f"SELECT count(*) FROM {landing.staging_name(V1, V1.table(table))} "
                           "WHERE len(_issues) = 0").fetchall()[0][0]

    assert n("projects") == len(projects)
    assert n("project_locations") == sum(len(p["projectLocations"]) for p in projects)
    assert n("units") == len(units)
    assert n("unit_labels") == sum(len(u["labels"]) for u in units)
    assert n("audit") == len(json.loads((SAMPLES / "62-final-audit-all.json").read_text())["data"])
    row = con.execute(
        "SELECT unit_count, vintage_year, time_staged, created_at FROM "
        f"{landing.staging_name(V1, V1.table('units'))} WHERE warehouse_unit_id = ?", [units[0]["warehouseUnitId"]]).fetchall()[0]
    assert row[0] == units[0]["unitCount"] and row[1] == units[0]["vintageYear"]
    assert int(row[2].timestamp()) == int(units[0]["timeStaged"])
    assert row[3].isoformat().startswith(units[0]["createdAt"][:19])
