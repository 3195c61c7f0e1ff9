"""The simulator refuses at least what a real CADT node refuses, with the real status and words.

Messages were checked against joi 17.13.3 (the version 1.7.24 pins) run on the real schemas,
through the error handler of `src/middleware.js` @ 1.7.24 (which sends `detail.context.message`
when Joi set one, else `detail.message`). The rate limiter is express-rate-limit 7 as the newer
builds configure it (`src/middleware.js`, cadt-v2-facts.md §1.1). Also: the rejection log.
"""

from __future__ import annotations

import json
import time
import uuid

import httpx
import pytest

from cadt_sim import AdminClient, Simulator
from cadt_sim.cli import main as sim_main
from cadt_sim.ratelimit import RatePolicy

PAGE = {"page": 1, "limit": 10}
FILTER_RE = r"/(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)/"
ORDER_RE = r"/(\w+):(ASC|DESC)/"


def _errors(c: httpx.Client, path: str, params: object) -> list[str]:
    """The Joi messages of a refused request (which must be a 400 validation error)."""
    r = c.get(path, params=params)
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["message"] == "Data Validation error" and body["success"] is False
    return body["errors"]


def _in_list(n: int) -> str:
    return "warehouseUnitId:" + json.dumps([str(uuid.uuid4()) for _ in range(n)],
                                           separators=(",", ":")) + ":in"


# ---- /v1/units: src/validations/units.validations.js @ 1.7.24 ---------------------------------

def test_units_filter_at_most_100_characters(client: httpx.Client) -> None:
    # filter: Joi.string().regex(genericFilterRegex).min(1).max(100): an `in` list fits 2 UUIDs
    assert client.get("/v1/units", params={**PAGE, "filter": _in_list(2)}).status_code == 200
    assert _errors(client, "/v1/units", {**PAGE, "filter": _in_list(3)}) == [
        '"filter" length must be less than or equal to 100 characters long']


def test_units_filter_regex_and_length_both_reported(client: httpx.Client) -> None:
    # same rule; abortEarly: false (express-joi-validation) reports every failing rule
    assert _errors(client, "/v1/units", {**PAGE, "filter": "nonsense"}) == [
        f'"filter" with value "nonsense" fails to match the required pattern: {FILTER_RE}']
    long = "x" * 101
    assert _errors(client, "/v1/units", {**PAGE, "filter": long}) == [
        f'"filter" with value "{long}" fails to match the required pattern: {FILTER_RE}',
        '"filter" length must be less than or equal to 100 characters long']
    assert _errors(client, "/v1/units", {**PAGE, "filter": ""}) == [
        '"filter" is not allowed to be empty']


def test_units_order_alternatives(client: httpx.Client) -> None:
    # order: Joi.alternatives().try(valid('SERIALNUMBER','ASC','DESC'),
    #                               string().regex(genericSortColumnRegex).min(1).max(100))
    for ok in ("SERIALNUMBER", "ASC", "DESC", "warehouseUnitId:ASC"):
        assert client.get("/v1/units", params={**PAGE, "order": ok}).status_code == 200, ok
    # one "complex" failure (string.max, or the pattern alone) is reported as it is
    long_ok = "a" * 100 + ":ASC"
    assert _errors(client, "/v1/units", {**PAGE, "order": long_ok}) == [
        '"order" length must be less than or equal to 100 characters long']
    assert _errors(client, "/v1/units", {**PAGE, "order": "bad"}) == [
        f'"order" with value "bad" fails to match the required pattern: {ORDER_RE}']
    # several failures in the second branch: alternatives.match, whose context.message (what
    # the CADT handler sends) joins every branch's messages
    long_bad = "b" * 101
    assert _errors(client, "/v1/units", {**PAGE, "order": long_bad}) == [
        '"order" must be one of [SERIALNUMBER, ASC, DESC]. '
        f'"order" with value "{long_bad}" fails to match the required pattern: {ORDER_RE}. '
        '"order" length must be less than or equal to 100 characters long']


def test_units_columns_at_most_200(client: httpx.Client) -> None:
    # columns: Joi.array().items(Joi.string()).single().max(INCLUDE_COLUMNS_LEN = 200)
    cols = [("columns", "warehouseUnitId")] * 200
    assert client.get("/v1/units", params=[("page", 1), ("limit", 1), *cols]).status_code == 200
    assert _errors(client, "/v1/units", [("page", 1), ("limit", 1), *cols,
                                         ("columns", "unitCount")]) == [
        '"columns" must contain less than or equal to 200 items']


def test_units_marketplace_identifiers_at_most_200(client: httpx.Client) -> None:
    # marketplaceIdentifiers: array().items(string()).single().max(MARKETPLACE_IDENTIFIERS_LEN=200)
    ids = [("marketplaceIdentifiers", f"m{i}") for i in range(200)]
    assert client.get("/v1/units", params=[("page", 1), ("limit", 1), *ids]).status_code == 200
    assert _errors(client, "/v1/units", [("page", 1), ("limit", 1), *ids,
                                         ("marketplaceIdentifiers", "m200")]) == [
        '"marketplaceIdentifiers" must contain less than or equal to 200 items']


def test_units_limit_1_to_1000(client: httpx.Client) -> None:
    # limit: Joi.number().max(1000).min(1).required(); page: Joi.number().min(1).required()
    assert client.get("/v1/units", params={"page": 1, "limit": 1000}).status_code == 200
    assert _errors(client, "/v1/units", {"page": 1, "limit": 1001}) == [
        '"limit" must be less than or equal to 1000']
    assert _errors(client, "/v1/units", {"page": 0, "limit": 0}) == [
        '"page" must be greater than or equal to 1', '"limit" must be greater than or equal to 1']
    assert _errors(client, "/v1/units", {"page": 1, "limit": "1_000"}) == [
        '"limit" must be a number']  # Joi's number syntax, not Python's float()


@pytest.mark.parametrize("key", ["warehouseUnitId", "onlyTokenizedUnits", "xls"])
def test_units_limit_at_most_100_with(client: httpx.Client, sim: Simulator, key: str) -> None:
    # .when(Joi.object({<key>: Joi.exist()}).unknown(), then: limit max(100) optional)
    value = sim.truth("units")[0]["warehouseUnitId"] if key == "warehouseUnitId" else "true"
    assert _errors(client, "/v1/units", {key: value, "page": 1, "limit": 101}) == [
        '"limit" must be less than or equal to 100']


# ---- /v1/projects: src/validations/projects.validations.js @ 1.7.24 ---------------------------

def test_projects_project_ids_at_most_200(client: httpx.Client) -> None:
    # projectIds: Joi.array().items(Joi.string()).single().max(PROJECT_IDS_LEN = 200)
    ids = [("projectIds", str(uuid.uuid4())) for _ in range(200)]
    assert client.get("/v1/projects", params=[("page", 1), ("limit", 1), *ids]
                      ).status_code == 200
    assert _errors(client, "/v1/projects", [("page", 1), ("limit", 1), *ids,
                                            ("projectIds", "one-more")]) == [
        '"projectIds" must contain less than or equal to 200 items']


def test_projects_columns_at_most_200(client: httpx.Client) -> None:
    # columns: array().items(string().valid(...allowedColumns)).single().max(INCLUDE_COLUMNS_LEN)
    cols = [("columns", "projectName")] * 201
    assert _errors(client, "/v1/projects", [("page", 1), ("limit", 1), *cols]) == [
        '"columns" must contain less than or equal to 200 items']


def test_projects_limit_at_most_1000(client: httpx.Client) -> None:
    # limit: Joi.number().max(1000).min(1).optional() (required by the .when's otherwise)
    assert _errors(client, "/v1/projects", {"page": 1, "limit": 1001}) == [
        '"limit" must be less than or equal to 1000']
    assert _errors(client, "/v1/projects", {"page": 1, "limit": 0}) == [
        '"limit" must be greater than or equal to 1']


# ---- /v1/audit: the newer builds (stricter than 1.7.24, whose limit had no maximum) ----------
# src/validations/audit.validations.js @ 1fec6e8b (cadt-v2-facts.md §1.6); 1.7.24's order
# valid('ASC','DESC') and .with('page','limit').with('limit','page') kept (stricter)

def _org(sim: Simulator) -> str:
    return max(sim.ledger.orgs, key=lambda u: len(sim.ledger.orgs[u].audit))


def test_audit_page_integer_1_to_100000(client: httpx.Client, sim: Simulator) -> None:
    org = _org(sim)
    assert client.get("/v1/audit", params={"orgUid": org, "page": 100000, "limit": 1}
                      ).json()["data"] == []
    for page, msg in ((0, '"page" must be greater than or equal to 1'),
                      (100001, '"page" must be less than or equal to 100000'),
                      (1.5, '"page" must be an integer')):
        assert _errors(client, "/v1/audit", {"orgUid": org, "page": page, "limit": 1}) == [msg]


def test_audit_limit_integer_1_to_1000(client: httpx.Client, sim: Simulator) -> None:
    org = _org(sim)
    assert client.get("/v1/audit", params={"orgUid": org, "page": 1, "limit": 1000}
                      ).status_code == 200
    for limit, msg in ((0, '"limit" must be greater than or equal to 1'),
                       (1001, '"limit" must be less than or equal to 1000'),
                       (2.5, '"limit" must be an integer')):
        assert _errors(client, "/v1/audit", {"orgUid": org, "page": 1, "limit": limit}) == [msg]


def test_audit_org_page_limit_required(client: httpx.Client) -> None:
    assert _errors(client, "/v1/audit", {}) == [
        '"page" is required', '"limit" is required', '"orgUid" is required']
    assert _errors(client, "/v1/audit", {"orgUid": "x", "limit": 5}) == [
        '"page" is required', '"limit" missing required peer "page"']


def test_audit_exclude_change(client: httpx.Client, sim: Simulator) -> None:
    # src/controllers/audit.controller.js (newer, index id 66051749066):
    # `if (excludeChange) queryOptions.attributes = { exclude: ['change'] }`: the key is gone
    q = {"orgUid": _org(sim), "page": 1, "limit": 50, "order": "ASC"}
    full = client.get("/v1/audit", params=q).json()
    slim = client.get("/v1/audit", params={**q, "excludeChange": "true"}).json()
    assert full["pageCount"] == slim["pageCount"] and len(slim["data"]) == len(full["data"])
    assert all("change" in r for r in full["data"])
    assert slim["data"] == [{k: v for k, v in r.items() if k != "change"} for r in full["data"]]
    assert client.get("/v1/audit", params={**q, "excludeChange": "false"}).json() == full
    assert _errors(client, "/v1/audit", {**q, "excludeChange": "yes"}) == [
        '"excludeChange" must be a boolean']


# ---- rate limit: express-rate-limit 7 as in the newer src/middleware.js ----------------------

def _limited(sim: Simulator, spec: str) -> httpx.Client:
    sim.set_rate_limit(spec)
    return httpx.Client(base_url=sim.url, timeout=30)


def test_rate_limit_headers_and_429(fresh: Simulator) -> None:
    with _limited(fresh, "3/60s") as c:
        remaining = []
        for _ in range(3):
            r = c.get("/v1/organizations")
            assert r.status_code == 200
            assert r.headers["ratelimit-policy"] == "3;w=60"
            assert r.headers["ratelimit-limit"] == "3"
            assert 0 < int(r.headers["ratelimit-reset"]) <= 60
            remaining.append(int(r.headers["ratelimit-remaining"]))
        assert remaining == [2, 1, 0]
        r = c.get("/api/v1/units", params=PAGE)  # /api and every route share one budget
        assert r.status_code == 429 and r.headers["ratelimit-remaining"] == "0"
        wait = int(r.headers["retry-after"])
        assert 0 < wait <= 60 and r.headers["ratelimit-reset"] == str(wait)
        assert r.json() == {"message": "Too many requests. Please slow down and try again later.",
                            "error": "RATE_LIMIT_EXCEEDED", "success": False, "retryAfter": wait}
        assert "x-api-version" not in r.headers  # answered before the CADT middleware
        assert c.get("/v1/nothing-here").status_code == 429  # 404s count too


def test_rate_limit_exempts_health_and_admin(fresh: Simulator) -> None:
    with _limited(fresh, "1/60s") as c:
        assert c.get("/v1/organizations").status_code == 200
        for _ in range(3):
            for path in ("/health", "/api/health", "/v1/health", "/v2/health/wallet",
                         "/diagnostics", "/_sim/info", "/_sim/stats"):
                r = c.get(path)
                assert r.status_code != 429 and "ratelimit-limit" not in r.headers, path
        assert c.get("/v1/organizations").status_code == 429


def test_rate_limit_window_per_client_ip(fresh: Simulator) -> None:
    """A fixed window per client IP from its first request (all of 127/8 is loopback)."""
    other = httpx.Client(base_url=fresh.url, timeout=30,
                         transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with _limited(fresh, "2/1s") as c, other:
        first = time.monotonic()
        assert [c.get("/v1/organizations").status_code for _ in range(3)] == [200, 200, 429]
        r = other.get("/v1/organizations")
        assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "1"
        deadline = time.monotonic() + 10
        while (r := c.get("/v1/organizations")).status_code == 429:  # poll: the window ends
            assert time.monotonic() < deadline, "the window never reset"
            time.sleep(0.05)
        assert time.monotonic() - first >= 0.9  # not before the 1 s window ran out
        assert r.headers["ratelimit-remaining"] == "1"  # a new window, counted from this one


def test_rate_limit_set_and_cleared_at_run_time(fresh: Simulator) -> None:
    with httpx.Client(base_url=fresh.url) as c, AdminClient(fresh.url) as adm:
        assert "ratelimit-limit" not in c.get("/v1/organizations").headers
        assert adm.set_rate_limit("1/15m") == {"rate_limit": "1/900s", "limit": 1,
                                               "window_s": 900.0}
        assert adm.info()["rate_limit"] == "1/900s"
        assert [c.get("/v1/organizations").status_code for _ in range(2)] == [200, 429]
        adm.set_rate_limit("5/2s")  # a new setting starts every window afresh
        assert c.get("/v1/organizations").headers["ratelimit-remaining"] == "4"
        assert adm.set_rate_limit(None) == {"rate_limit": None}
        assert "ratelimit-limit" not in c.get("/v1/organizations").headers
        r = adm.http.post("/_sim/rate_limit", json={"rate_limit": "lots"})
        assert r.status_code == 400 and "1000/15m" in r.json()["error"]
    with Simulator(seed=1, scale=0.2, rate_limit="1000/15m") as s:
        r = httpx.get(s.url + "/v1/organizations")
        assert r.headers["ratelimit-policy"] == "1000;w=900"
        assert r.headers["ratelimit-remaining"] == "999"


@pytest.mark.parametrize(("spec", "limit", "ms"), [
    ("1000/15m", 1000, 900_000), ("50/2s", 50, 2000), ("7/1h", 7, 3_600_000),
    ("3/0.5s", 3, 500)])
def test_rate_policy_parse(spec: str, limit: int, ms: int) -> None:
    assert RatePolicy.parse(spec) == RatePolicy(limit, ms)


def test_rate_limit_option_is_checked() -> None:
    for bad in ("1000", "0/1s", "10/5d", "x/1s"):
        with pytest.raises(ValueError, match="1000/15m"):
            RatePolicy.parse(bad)
        with pytest.raises(SystemExit):
            sim_main(["serve", "--rate-limit", bad])


# ---- rejection log -----------------------------------------------------------------------------

def test_rejections_record_every_4xx(fresh: Simulator, fc: httpx.Client) -> None:
    assert fc.get("/v1/units", params=PAGE).status_code == 200
    fc.get("/api/v1/units", params={"page": 1, "limit": 5000})
    fc.get("/v1/nothing-here?x=1")
    fc.get("/_sim/nothing")  # admin: never logged
    rows = fresh.rejections()
    assert [(r["route"], r["path"], r["status"], r["query"], r["fault"]) for r in rows] == [
        ("/v1/units", "/api/v1/units", 400, "page=1&limit=5000", False),
        ("/v1/nothing-here", "/v1/nothing-here", 404, "x=1", False)]
    assert rows[0]["message"] == "Data Validation error"
    assert rows[0]["errors"] == ['"limit" must be less than or equal to 1000']
    assert rows[1]["message"] == "Cannot GET /v1/nothing-here"
    with AdminClient(fresh.url) as adm:
        assert adm.rejections() == json.loads(json.dumps(rows))
        adm.clear_rejections()
        assert adm.rejections() == [] and fresh.rejections() == []


def test_rejections_tell_injected_429_from_genuine(fresh: Simulator, fc: httpx.Client) -> None:
    fresh.set_faults([{"route": "/v1/units", "kind": "429", "rate": 1.0}])
    assert fc.get("/v1/units", params=PAGE).status_code == 429
    fresh.clear_faults()
    fresh.set_rate_limit("1/60s")
    assert [fc.get("/v1/projects", params=PAGE).status_code for _ in range(2)] == [200, 429]
    rows = fresh.rejections()
    assert [(r["route"], r["status"], r["fault"]) for r in rows] == [
        ("/v1/units", 429, True), ("/v1/projects", 429, False)]
    assert rows[1]["error"] == "RATE_LIMIT_EXCEEDED"
