"""Shapes against the captured real responses: keys and order, types, envelopes, headers,
error bodies."""

from __future__ import annotations

import re

import httpx

from cadt_sim import Simulator

from .conftest import sample, sample_headers

CADT_HEADERS = ["x-powered-by", "access-control-allow-origin", "access-control-expose-headers",
                "cache-control", "cw-read-only", "x-governance-body", "x-api-version",
                "x-datamodel-version", "x-data-synced", "x-sync-remaining", "x-wallet-synced",
                "content-type", "content-length", "etag"]


def _types(d: dict) -> dict[str, set[str]]:
    return {k: {type(v).__name__} for k, v in d.items()}


def _check_record(got: dict, ref: dict, nested: tuple[str, ...] = ()) -> None:
    assert list(got) == list(ref)
    for k, v in ref.items():
        if k in nested or v is None or got[k] is None:
            continue
        assert type(got[k]) is type(v), (k, got[k], v)


def test_projects_shape(client: httpx.Client) -> None:
    ref = sample("62-final-projects.json")
    r = client.get("/v1/projects", params={"page": 1, "limit": 1000})
    doc = r.json()
    assert list(doc) == ["page", "pageCount", "data"]
    assert doc["page"] == 1 and isinstance(doc["pageCount"], int)
    p0 = ref["data"][0]
    children = ("projectLocations", "labels", "issuances", "coBenefits", "relatedProjects",
                "projectRatings", "estimations")
    full = [p for p in doc["data"] if all(p[c] for c in children)] or doc["data"]
    for p in doc["data"]:
        _check_record(p, p0, children)
    for c in children:
        rows = [x for p in (full + doc["data"]) for x in p[c]]
        assert rows, c
        for x in rows[:5]:
            _check_record(x, p0[c][0])
    assert isinstance(doc["data"][0]["timeStaged"], str)


def test_units_shape(client: httpx.Client, sim: Simulator) -> None:
    ref = sample("62-final-units.json")["data"][0]
    lu = next(x for x in sim.truth("label_unit"))
    r = client.get("/v1/units", params={"warehouseUnitId": lu["warehouseUnitId"]})
    u = r.json()
    _check_record(u, ref, ("labels", "issuance"))
    assert u["labels"], "unit with a label_unit must show its label"
    _check_record(u["labels"][0], ref["labels"][0], ("label_unit",))
    assert list(u["labels"][0]["label_unit"]) == list(ref["labels"][0]["label_unit"])
    if u["issuance"] is not None:
        _check_record(u["issuance"], ref["issuance"])
    assert u["serialNumberBlock"] == f"{u['unitBlockStart']}-{u['unitBlockEnd']}"


def test_organizations_shape(client: httpx.Client) -> None:
    ref = next(iter(sample("62-final-organizations.json").values()))
    doc = client.get("/v1/organizations").json()
    assert isinstance(doc, dict) and len(doc) >= 3
    for uid, o in doc.items():
        assert o["orgUid"] == uid and re.fullmatch(r"[0-9a-f]{64}", uid)
        assert list(o) == [k for k in ref if k not in ("xchAddress", "balance")]
        assert o["fileStoreSubscribed"] == "0" and o["isHome"] is False
        assert re.fullmatch(r"0x[0-9a-f]{64}", o["registryHash"])
        assert o["synced"] is True and o["sync_remaining"] == 0


def test_audit_shape(client: httpx.Client, sim: Simulator) -> None:
    ref = sample("42-audit-page1.json")["data"][0]
    org = next(iter(sim.ledger.orgs))
    doc = client.get("/v1/audit", params={"orgUid": org, "page": 1, "limit": 5,
                                          "order": "ASC"}).json()
    assert list(doc) == ["page", "pageCount", "data"]
    first = doc["data"][0]
    assert list(first) == list(ref)
    assert first["type"] == "CREATE REGISTRY" and first["generation"] == 0
    assert first["change"] is None and first["table"] is None
    assert all(isinstance(r["onchainConfirmationTimeStamp"], str) for r in doc["data"])
    ins = next(r for r in doc["data"] if r["type"] == "INSERT")
    assert isinstance(ins["change"], str) and isinstance(ins["id"], int)


def test_picklist_and_health(client: httpx.Client) -> None:
    assert client.get("/v1/governance/meta/pickList").json() == sample("22-pickList.json")
    h = client.get("/health").json()
    assert list(h) == ["message", "timestamp"] and h["message"] == "OK"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", h["timestamp"])


def test_headers_as_sample(client: httpx.Client) -> None:
    _, ref = sample_headers("62-final-units.headers.txt")
    r = client.get("/v1/units", params={"page": 1, "limit": 10})
    for h in CADT_HEADERS:
        assert h in r.headers, h
    for h in ("x-powered-by", "access-control-allow-origin", "access-control-expose-headers",
              "cache-control", "cw-read-only", "x-governance-body", "x-api-version",
              "x-datamodel-version", "x-wallet-synced", "content-type"):
        assert r.headers[h] == ref[h], h
    assert r.headers["x-data-synced"] == "true" and r.headers["x-sync-remaining"] == "0"
    assert re.fullmatch(r'W/"[0-9a-f]+-[A-Za-z0-9+/]{27}"', r.headers["etag"])
    assert int(r.headers["etag"][3:].split("-")[0], 16) == len(r.content)


def test_error_bodies(client: httpx.Client) -> None:
    cases = [
        ("/v1/projects", {}, "33-projects-no-page.json"),
        ("/v1/projects", {"page": 1, "limit": 10, "since": "2025-01-01"},
         "33-projects-unknown-param.json"),
        ("/v1/projects", {"page": 1, "limit": 10, "columns": "orgUid"},
         "33-projects-columns-orgUid-rejected.json"),
        ("/v1/audit", {"page": 1, "limit": 10}, "33-audit-missing-orgUid.json"),
        ("/v1/issuances", {}, "localmode-00-issuances-no-homeorg.json"),
    ]
    for path, params, name in cases:
        r = client.get(path, params=params)
        assert r.status_code == 400, name
        assert r.content == httpx.Response(200, json=sample(name)).content or \
            r.json() == sample(name), name


def test_nulls_and_empties(client: httpx.Client) -> None:
    assert client.get("/v1/projects", params={"warehouseProjectId": "does-not-exist"}).text \
        == "null"
    assert client.get("/v1/units", params={"warehouseUnitId": "does-not-exist"}).text == "null"
    past = client.get("/v1/projects", params={"page": 500, "limit": 10}).json()
    assert past["page"] == 500 and past["data"] == [] and past["pageCount"] >= 1
    assert client.get("/v1/audit", params={"orgUid": "nope", "page": 1, "limit": 5}).json() \
        == sample("61-audit-unknown-org.json")
    r = client.get("/v2/health")
    assert r.status_code == 404 and "Cannot GET /v2/health" in r.text
    assert r.headers["content-type"] == "text/html; charset=utf-8"


def test_etag_304(client: httpx.Client) -> None:
    for path, params in (("/v1/organizations", {}), ("/v1/projects", {"page": 1, "limit": 5}),
                         ("/v1/units", {"page": 1, "limit": 5, "order": "warehouseUnitId:ASC"}),
                         ("/v1/governance/meta/pickList", {})):
        r = client.get(path, params=params)
        r2 = client.get(path, params=params, headers={"If-None-Match": r.headers["etag"]})
        assert r2.status_code == 304 and r2.content == b"", path
        assert r2.headers["etag"] == r.headers["etag"]


def test_api_mount_and_api_key() -> None:
    with Simulator(seed=1, scale=1, api_key="s3cret") as s, httpx.Client(base_url=s.url) as c:
        for path in ("/health", "/v1/organizations", "/api/v1/units?page=1&limit=1"):
            r = c.get(path)
            assert r.status_code == 403 and r.json() == {"message": "CADT API key not found"}
            assert c.get(path, headers={"x-api-key": "wrong"}).status_code == 403
            assert c.get(path, headers={"x-api-key": "s3cret"}).status_code == 200
        r = c.get("/api/v1/projects", params={"page": 1, "limit": 2},
                  headers={"x-api-key": "s3cret"})
        assert r.json()["data"] and c.get("/_sim/info").status_code == 200


def test_columns(client: httpx.Client) -> None:
    doc = client.get("/v1/projects", params=[("page", 1), ("limit", 5),
                                             ("columns", "warehouseProjectId"),
                                             ("columns", "projectName"),
                                             ("columns", "NDCLinkage")]).json()
    assert all(list(p) == ["warehouseProjectId", "projectName"] for p in doc["data"])
    doc = client.get("/v1/units", params=[("page", 1), ("limit", 5),
                                          ("columns", "warehouseUnitId"), ("columns", "orgUid"),
                                          ("columns", "updatedAt"), ("columns", "bogus")]).json()
    ref = sample("33-units-filter-updatedAt.json")["data"][0]
    assert all(list(u) == list(ref) for u in doc["data"])
