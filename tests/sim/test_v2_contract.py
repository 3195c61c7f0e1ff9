"""The v2 read API's contract: routes and their exact parameter sets, required paging, Joi and
controller 400 wordings, envelopes, 404 bodies, filters that are silently ignored, orders,
the snake_case organizations map and audit rows (cadt-v2-facts.md §1-§3)."""

from __future__ import annotations

import math
import re
from collections.abc import Iterator

import httpx
import pytest

from cadt_sim import Simulator
from cadt_sim.schema_v2 import AUDIT_COLUMNS, ORG_COLUMNS, TABLES

CHILD_ROUTES = [t for t in TABLES if t.name not in ("project", "unit")]


@pytest.fixture(scope="module")
def sim2() -> Iterator[Simulator]:
    """Read-only v2 node: tests using it must not commit activity."""
    with Simulator(seed=11, scale=1, v2=True) as s:
        yield s


@pytest.fixture(scope="module")
def c2(sim2: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim2.url, timeout=30) as c:
        yield c


def _errors(r: httpx.Response) -> list[str]:
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["message"] == "Data Validation error" and body["success"] is False
    return body["errors"]


def test_v1_only_build_has_no_v2() -> None:
    with Simulator(seed=1, scale=1) as s, httpx.Client(base_url=s.url) as c:
        r = c.get("/v2/organizations")
        assert r.status_code == 404 and "Cannot GET /v2/organizations" in r.text
        assert s.truth("unit", model="v2") == []


def test_every_list_route_requires_paging(c2: httpx.Client) -> None:
    for t in TABLES:
        r = c2.get(t.route)
        errs = _errors(r)
        if t.name in ("project", "unit"):  # Joi's default messages
            assert errs == ['"page" is required', '"limit" is required'], t.route
        else:  # pagination-v2.validations.js custom messages
            assert errs == ["page is required", "limit is required"], t.route
        ok = c2.get("/api" + t.route, params={"page": 1, "limit": 1000})
        assert ok.status_code == 200, (t.route, ok.text)
        doc = ok.json()
        assert list(doc) == ["page", "pageCount", "data"] and doc["page"] == 1


def test_paging_wordings(c2: httpx.Client) -> None:
    assert _errors(c2.get("/v2/location", params={"page": 0, "limit": 1001})) == [
        "page must be at least 1", "limit must not exceed 1000"]
    assert _errors(c2.get("/v2/rating", params={"page": 1.5, "limit": "x"})) == [
        "page must be an integer", "limit must be a number"]
    assert _errors(c2.get("/v2/unit", params={"page": 1, "limit": 1001})) == [
        '"limit" must be less than or equal to 1000']
    assert _errors(c2.get("/v2/project", params={"page": 0, "limit": 5})) == [
        '"page" must be greater than or equal to 1']


def test_parameter_sets(c2: httpx.Client) -> None:
    page = {"page": 1, "limit": 5}
    # children take no filter/order/search; createdByOrgUid only where the route has it
    for t in CHILD_ROUTES:
        for extra in ("filter", "order", "search"):
            assert _errors(c2.get(t.route, params={**page, extra: "x"})) == [
                f'"{extra}" is not allowed'], (t.route, extra)
        r = c2.get(t.route, params={**page, "createdByOrgUid": "x"})
        assert (r.status_code == 200) == t.created_by, t.route
        r = c2.get(t.route, params={**page, "columns": "project"})
        assert (r.status_code == 200) == t.columns_param, t.route
    # the v2 doc's cadTrustUnitId query key and projectIds on units are rejected
    assert _errors(c2.get("/v2/unit", params={**page, "cadTrustUnitId": "x"})) == [
        '"cadTrustUnitId" is not allowed']
    assert _errors(c2.get("/v2/unit", params={**page, "createdByOrgUid": "x"})) == [
        '"createdByOrgUid" is not allowed']
    # projectIds does not lift page/limit (unlike v1)
    assert _errors(c2.get("/v2/project", params={"projectIds": "a"})) == [
        '"page" is required', '"limit" is required']
    too_many = [f"0x{i}" for i in range(201)]
    assert _errors(c2.get("/v2/unit", params={**page, "marketplaceIdentifiers": too_many})) \
        == ['"marketplaceIdentifiers" must contain less than or equal to 200 items']
    assert _errors(c2.get("/v2/unit", params={**page, "orgUid": ""})) == [
        '"orgUid" is not allowed to be empty']


def test_envelope_and_past_the_end(c2: httpx.Client, sim2: Simulator) -> None:
    n = len(sim2.truth("unit", "v2"))
    for limit in (1, 7, 1000):
        doc = c2.get("/v2/unit", params={"page": 1, "limit": limit}).json()
        assert doc["pageCount"] == math.ceil(n / limit) and len(doc["data"]) == min(limit, n)
    past = c2.get("/v2/stakeholder", params={"page": 99, "limit": 10}).json()
    assert past["page"] == 99 and past["data"] == [] and past["pageCount"] >= 1


def test_single_records_and_404(c2: httpx.Client, sim2: Simulator) -> None:
    for t in TABLES:
        rows = sim2.truth(t.name, "v2")
        assert rows, t.name
        r = c2.get(f"{t.route}/{rows[0][t.pk]}")
        assert r.status_code == 200 and r.json() == rows[0], t.name
        missing = "00000000-0000-4000-8000-000000000000"
        r = c2.get(f"{t.route}/{missing}")
        assert r.status_code == 404 and r.json() == {"message": f"{t.label} not found",
                                                     "success": False}, t.name
    for name in ("estimation", "rating"):
        r = c2.get(f"/v2/{name}/not-a-uuid")
        assert r.status_code == 400
        assert r.json() == {"success": False, "message": f"Invalid {name} ID format"}
    assert c2.get("/v2/unit/not-a-uuid").json() == {"message": "Unit not found",
                                                    "success": False}
    p = sim2.truth("project", "v2")[0]
    full = c2.get(f"/v2/project/{p['cadTrustProjectId']}",
                  params={"columns": "program,locations,coBenefits"}).json()
    assert list(full)[-3:] == ["program", "locations", "coBenefits"]
    assert all(x["cadTrustProjectId"] == p["cadTrustProjectId"] for x in full["locations"])


def test_filters_silently_ignored_and_limits(c2: httpx.Client, sim2: Simulator) -> None:
    page = {"page": 1, "limit": 1000}
    everything = c2.get("/v2/project", params=page).json()["pageCount"]
    for bad in ("nonsense", "projectStatus:Registered:foo", "projectStatus:Registered:ne"):
        r = c2.get("/v2/project", params={**page, "filter": bad, "limit": 1})
        assert r.status_code == 200 and r.json()["pageCount"] == len(
            sim2.truth("project", "v2")), bad
    assert everything == 1
    # the unit regex takes any word as a Sequelize operator
    held = c2.get("/v2/unit", params={**page, "filter": "unitStatus:Held:ne"}).json()["data"]
    assert held and all(u["unitStatus"] != "Held" for u in held)
    r = c2.get("/v2/unit", params={**page, "filter": "unitStatus:Held:bogus"})
    assert r.status_code == 400 and r.json()["message"] == "Error retrieving units"
    r = c2.get("/v2/unit", params={**page, "filter": "f:" + "x" * 10000 + ":eq"})
    assert r.json() == {"message": "Error retrieving units",
                        "error": "Filter parameter exceeds maximum length", "success": False}
    r = c2.get("/v2/project", params={**page, "filter": "projectId:" + "x" * 5001 + ":eq"})
    assert r.json()["error"] == "Filter value exceeds maximum length"
    # project/unit timestamps are the attributes created_at/updated_at
    r = c2.get("/v2/unit", params={**page, "filter": "createdAt:2020-01-01:gt"})
    assert r.status_code == 400 and "no such column" in r.json()["error"]
    newer = c2.get("/v2/unit", params={**page, "filter": "updated_at:2020-01-01T00:00:00Z:gt"})
    assert newer.status_code == 200 and newer.json()["data"]
    retired = c2.get("/v2/unit", params={**page, "filter": 'unitStatus:["Retired","Cancelled"]:in'})
    assert {u["unitStatus"] for u in retired.json()["data"]} <= {"Retired", "Cancelled"}


def test_orders(c2: httpx.Client, sim2: Simulator) -> None:
    page = {"page": 1, "limit": 1000}
    for order, err in (("orgUid:ASC", "Invalid sort column: orgUid."),
                       ("unitCount:asc", "Invalid order format: unitCount:asc."),
                       ("x" * 201, "Order parameter exceeds maximum length")):
        r = c2.get("/v2/unit", params={**page, "order": order})
        assert r.status_code == 400 and r.json()["error"].startswith(err), order
    ids = [u["cadTrustUnitId"] for u in c2.get(
        "/v2/unit", params={**page, "order": "cadTrustUnitId:DESC"}).json()["data"]]
    assert ids == sorted(ids, reverse=True)
    made = [p["created_at"] for p in c2.get(
        "/v2/project", params={**page, "order": "createdAt:ASC"}).json()["data"]]
    assert made == sorted(made)
    counts = [u["unitCount"] for u in c2.get(
        "/v2/unit", params={**page, "order": "unitCount:DESC"}).json()["data"]]
    assert counts == sorted(counts, reverse=True)
    # default: created_at DESC (not total), validation: rowid order (no ORDER BY)
    default = [u["created_at"] for u in c2.get("/v2/unit", params=page).json()["data"]]
    assert default == sorted(default, reverse=True)


def test_keyset_crawl_and_org_filters(c2: httpx.Client, sim2: Simulator) -> None:
    truth = {u["cadTrustUnitId"]: u for u in sim2.truth("unit", "v2")}
    got, last = [], None
    while True:
        p = {"page": 1, "limit": 97, "order": "cadTrustUnitId:ASC"}
        if last:
            p["filter"] = f"cadTrustUnitId:{last}:gt"
        data = c2.get("/v2/unit", params=p).json()["data"]
        if not data:
            break
        got.extend(data)
        last = data[-1]["cadTrustUnitId"]
    assert [u["cadTrustUnitId"] for u in got] == sorted(truth) and got == [
        truth[u["cadTrustUnitId"]] for u in got]
    orgs = list(sim2.ledger.v2.orgs)
    projects = {p["cadTrustProjectId"]: p["orgUid"] for p in sim2.truth("project", "v2")}
    for org in orgs:
        t2 = c2.get("/v2/aef-t2-authorizations", params={"page": 1, "limit": 1000,
                                                          "orgUid": org}).json()["data"]
        every = [r for r in sim2.truth("aef_t2_authorizations", "v2")
                 if projects.get(r["cadTrustProjectId"]) == org]
        assert {r["cadTrustAefT2AuthorizationsId"] for r in t2} == {
            r["cadTrustAefT2AuthorizationsId"] for r in every}  # no project -> excluded
        prog = c2.get("/v2/program", params={"page": 1, "limit": 1000, "orgUid": org}).json()
        assert all(p["orgUid"] == org for p in prog["data"])
    unowned = [r for r in sim2.truth("aef_t2_authorizations", "v2")
               if r["cadTrustProjectId"] is None]
    assert unowned, "some authorizations have no project (and match no orgUid filter)"


def test_organizations_and_audit_shape(c2: httpx.Client, sim2: Simulator) -> None:
    orgs = c2.get("/v2/organizations").json()
    assert orgs and all(list(o) == list(ORG_COLUMNS) and o["org_uid"] == u
                        for u, o in orgs.items())
    v1 = c2.get("/v1/organizations").json()
    both = [u for u in orgs if u in v1]
    assert len(both) == 1 and len(orgs) == 2 and len(v1) >= 3  # both, v2-only, v1-only
    assert orgs[both[0]]["registry_id"] != v1[both[0]]["registryId"]
    assert orgs[both[0]]["data_model_version_store_id"] == v1[both[0]]["dataModelVersionStoreId"]
    org = both[0]
    q = {"page": 1, "limit": 1000, "orgUid": org}
    doc = c2.get("/v2/audit", params=q).json()
    rows = doc["data"]
    assert rows and all(list(r) == list(AUDIT_COLUMNS) for r in rows)
    ts = [r["onchain_confirmation_time_stamp"] for r in rows]
    assert ts == sorted(ts, reverse=True)
    asc = c2.get("/v2/audit", params={**q, "order": "asc"}).json()["data"]
    assert asc[0]["type"] == "CREATE REGISTRY" and asc[0]["generation"] == 0
    assert c2.get("/v2/audit", params={**q, "order": "sideways"}).json()["data"][0][
        "onchain_confirmation_time_stamp"] == ts[0]  # anything else -> DESC
    lean = c2.get("/v2/audit", params={**q, "excludeChange": "true"}).json()["data"]
    assert lean and all("change" not in r for r in lean)
    r = c2.get("/v2/audit", params={**q, "orgUid": "not-an-org"})
    assert r.status_code == 400 and r.json() == {
        "message": "Cannot retrieve audit data",
        "error": "The orgUid: not-an-org is not in the list of subscribed organizations",
        "success": False}
    v1_only = next(u for u in v1 if u not in orgs)
    assert c2.get("/v2/audit", params={**q, "orgUid": v1_only}).status_code == 400
    assert _errors(c2.get("/v2/audit", params={"orgUid": org, "page": 100001, "limit": 5})) == [
        "Invalid page value. Must be between 1 and 100000"]
    assert _errors(c2.get("/v2/audit", params={"orgUid": org, "page": 1})) == [
        "limit is required", '"page" missing required peer "limit"']


def test_headers_pick_list_health(c2: httpx.Client, sim2: Simulator) -> None:
    r = c2.get("/v2/unit", params={"page": 1, "limit": 1})
    for h in ("x-data-synced", "x-sync-remaining", "etag", "x-api-version"):
        assert h in r.headers
    assert r.headers["x-datamodel-version"] == "v1"  # package major, also on /v2
    pl = c2.get("/v2/governance/meta/pickList").json()
    assert "Held" in pl["unit_status"] and "aef_t3_actions_type" in pl
    h = c2.get("/v2/health").json()
    assert h["message"] == "V2 API is running" and re.match(r"\d{4}-", h["timestamp"])
    assert c2.get("/v2/organizations/metadata", params={"orgUid": "nope"}).json() == {}
