"""The simulator refuses at least what a real CADT node refuses, with the real status and words.

Messages were checked against joi 17.13.3 (the version 1.7.24 pins) run on the real schemas,
through the error handler of `src/middleware.js` @ 1.7.24 (which sends `detail.context.message`
when Joi set one, else `detail.message`). The rate limiter is express-rate-limit 7 as the newer
builds configure it (`src/middleware.js`, cadt-v2-facts.md §1.1). Also: the rejection log.
"""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator

import httpx
import pytest

from cadt_sim import AdminClient, Simulator
from cadt_sim.cli import main as sim_main
from cadt_sim.ratelimit import RateLimiter, RatePolicy

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


@pytest.mark.parametrize(("value", "answer"), [
    # Joi 17 number.unsafe (lib/types/number.js): digits lost as a double, or beyond 2^53 - 1
    ("9007199254740993", '"page" must be a safe number'),
    ("1e20", '"page" must be a safe number'),
    ("1e400", '"page" must be a safe number'),
    ("99999999999999999999", '"page" must be a safe number'),
    ("0.1000000000000000055511151231257827", '"page" must be a safe number'),
    ("\u0663", '"page" must be a number'),  # an Arabic-Indic 3: JS's \d is ASCII
    ("1\x1c", '"page" must be a number'),  # not JS whitespace (Python's str.strip would drop it)
    ("9007199254740991", None), (" 1 ", None), ("1\u2028", None), ("\ufeff1", None),
    ("1.", None), ("00001", None), ("1e2", None)])
def test_units_page_numbers_as_joi(client: httpx.Client, value: str, answer: str | None) -> None:
    # the answers of joi 17.13.3 (express-joi-validation, convert: true) on the 1.7.24 schema
    r = client.get("/v1/units", params={"page": value, "limit": 10})
    if answer is None:
        assert r.status_code == 200, r.text
    else:
        assert _errors(client, "/v1/units", {"page": value, "limit": 10}) == [answer]
    assert _errors(client, "/v1/units", {"page": 1, "limit": "1e-400"}) == [
        '"limit" must be a safe number']  # 0 after parsing, but not what was written


@pytest.mark.parametrize("route", ["/v1/units", "/v1/projects"])
def test_fractional_paging_reaches_sqlite(client: httpx.Client, route: str) -> None:
    # 1.7.24's schemas have no .integer(); paginationParams gives LIMIT (page-1)*limit, limit,
    # which SQLite runs only with integers (sequelize 6.37.5: `LIMIT 0, 10.5`; SQLite:
    # "datatype mismatch"): the controller's 400
    what = route.rsplit("/", 1)[1]
    for q in ({"page": 1, "limit": "10.5"}, {"page": "1.25", "limit": 10}):
        r = client.get(route, params={**q, "order": "timeStaged:ASC"})
        assert r.status_code == 400, (q, r.text)
        assert r.json() == {"message": f"Error retrieving {what}",
                            "error": "SQLITE_MISMATCH: datatype mismatch", "success": False}
    r = client.get(route, params={"page": "1.5", "limit": 10})  # offset 5: runs
    assert r.status_code == 200 and r.json()["page"] == 1.5
    assert len(r.json()["data"]) == 10
    # a missing column fails SQLite's prepare, before the LIMIT is looked at
    r = client.get(route, params={"page": 1, "limit": "10.5", "order": "nosuch:ASC"})
    assert r.json()["error"].startswith("SQLITE_ERROR: no such column:")


@pytest.mark.parametrize(("route", "param", "value"), [
    ("/v1/units", "filter", "x:a\nb:eq"),  # JS's . does not match a line terminator
    ("/v1/units", "filter", "x:a\rb:eq"),
    ("/v1/units", "filter", "\u00e4:b:eq"),  # JS's \w is ASCII
    ("/v1/units", "order", "\u00e4:ASC"),
    ("/v1/projects", "filter", "\u00e4:b:eq"),
    ("/v1/projects", "order", "\u0663:DESC"),
])
def test_v1_regexes_in_js_semantics(client: httpx.Client, route: str, param: str,
                                    value: str) -> None:
    # the answers of joi 17.13.3 on the 1.7.24 schemas (the message shows the real regex)
    shown = FILTER_RE if param == "filter" else ORDER_RE
    assert _errors(client, route, {**PAGE, param: value}) == [
        f'"{param}" with value "{value}" fails to match the required pattern: {shown}']


def test_v1_filter_operator_as_the_controller_reads_it(client: httpx.Client,
                                                       sim: Simulator) -> None:
    # `filter.match(/(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)/)` is unanchored and tries `lt`
    # before `lte`: `vintageYear:2020:lte` is `vintageYear < 2020` on a 1.7.24 node (node 20)
    def count(flt: str) -> int:
        r = client.get("/v1/units", params={"page": 1, "limit": 1, "filter": flt})
        assert r.status_code == 200, r.text
        return r.json()["pageCount"]

    years = [u["vintageYear"] for u in sim.truth("units") if u["vintageYear"] is not None]
    assert count("vintageYear:2020:lte") == sum(1 for y in years if y < 2020)
    assert count("vintageYear:2020:gte") == count("vintageYear:2020:gt") == sum(
        1 for y in years if y > 2020) > 0
    assert 2020 in years


def test_v2_regexes_in_js_semantics(nc: httpx.Client) -> None:
    # the newest controllers' anchored regexes, in JS: `$` is the very end and `.` stops at a
    # line terminator, so these filters do not match (silently ignored) and the order is
    # refused (project-v2 / unit-v2 controllers, cadt-v2-facts.md §2.2-2.3)
    def count(path: str, **p: str) -> int:
        r = nc.get(path, params={"page": 1, "limit": 1, **p})
        assert r.status_code == 200, r.text
        return r.json()["pageCount"]

    every = count("/v2/unit")
    assert count("/v2/unit", filter="unitStatus:Retired:eq") < every
    assert count("/v2/unit", filter="unitStatus:Retired:eq\n") == every
    assert count("/v2/unit", filter="unitStatus:Ret\nired:eq") == every
    assert count("/v2/project", filter="projectStatus:x:eq\n") == count("/v2/project")
    r = nc.get("/v2/unit", params={"page": 1, "limit": 1, "order": "cadTrustUnitId:ASC\n"})
    assert r.status_code == 400 and r.json()["error"] == (
        "Invalid order format: cadTrustUnitId:ASC\n. Expected format: columnName:ASC or "
        "columnName:DESC")


def _raw_get(url: str, target: str, headers: list[tuple[str, str]]) -> tuple[int, bytes, bool]:
    """One request on its own socket: (status, whole response, server closed the socket)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        head = f"GET {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
        s.sendall((head + "\r\n").encode())
        data, closed = b"", False
        while True:
            chunk = s.recv(65536)
            if not chunk:
                closed = True
                break
            data += chunk
            end = data.find(b"\r\n\r\n")
            length = next((int(x.split(b":")[1]) for x in data[:end].split(b"\r\n")
                           if x.lower().startswith(b"content-length:")), None)
            if end >= 0 and length is not None and len(data) >= end + 4 + length:
                s.settimeout(0.5)  # complete: does the server close the connection?
                try:
                    closed = s.recv(1) == b""
                except TimeoutError:
                    closed = False
                break
    return int(data.split(b" ", 2)[1]), data, closed


def test_request_head_over_16k_gets_431(fresh: Simulator) -> None:
    # Node's parser (--max-http-header-size 16384) counts the target and every header name and
    # value; with `Host: x` (5 bytes) a 16378-byte target passes and a 16379-byte one gets
    # `HTTP/1.1 431 Request Header Fields Too Large`, `Connection: close`, no body (measured
    # on node 20.20)
    fresh.reset_stats()
    base = "/v1/projects?page=1&limit=1&filter=projectName:"
    under = base + "x" * (16378 - len(base) - 3) + ":eq"
    assert len(under) == 16378
    status, _, closed = _raw_get(fresh.url, under, [("Host", "x")])
    assert status == 200 and not closed
    over = under[:-3] + "x:eq"
    status, data, closed = _raw_get(fresh.url, over, [("Host", "x")])
    assert status == 431 and closed
    assert data.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")
    assert data.endswith(b"\r\n\r\n") and b"x-powered-by" not in data.lower()
    assert b"connection: close" in data.lower()
    # headers count too: the short target with a big header
    status, _, _ = _raw_get(fresh.url, "/v1/organizations", [("Host", "x"),
                                                             ("X-Pad", "p" * 16400)])
    assert status == 431
    assert fresh.stats()["total"] == 1  # Node refuses before Express: only the 200 counted
    assert [(r["status"], r["message"]) for r in fresh.rejections()] == [
        (431, "Request Header Fields Too Large")] * 2


def test_handler_exception_is_a_marked_500(fresh: Simulator, fc: httpx.Client,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    # a bug of the simulator must never look like a node's refusal
    def broken(led: object, q: object) -> None:
        raise RuntimeError("boom")

    monkeypatch.setitem(fresh.state.routes, ("GET", "/v1/staging"), broken)
    r = fc.get("/v1/staging")
    assert r.status_code == 500 and r.headers["x-cadt-sim-error"] == "1"
    assert r.json()["simulator"] is True and r.json()["error"] == "RuntimeError: boom"
    assert fresh.rejections() == []


# ---- /v1/projects: src/validations/projects.validations.js @ 1.7.24 ---------------------------

def test_projects_project_ids_at_most_200(client: httpx.Client) -> None:
    # projectIds: Joi.array().items(Joi.string()).single().max(PROJECT_IDS_LEN = 200)
    ids = [("projectIds", str(uuid.uuid4())) for _ in range(200)]
    assert client.get("/v1/projects", params=[("page", 1), ("limit", 1), *ids]
                      ).status_code == 200
    assert _errors(client, "/v1/projects", [("page", 1), ("limit", 1), *ids,
                                            ("projectIds", "one-more")]) == [
        '"projectIds" must contain less than or equal to 200 items']


@pytest.mark.parametrize(("params", "errors"), [
    # .when(alternatives(object({projectIds|warehouseProjectId|xls: Joi.string().required()})))
    # lifts page/limit only for one non-empty value (joi 17.13.3 on the 1.7.24 schema)
    ({"projectIds": ""}, ['"page" is required', '"limit" is required',
                          '"projectIds" is not allowed to be empty']),
    ({"projectIds": "", "page": 1}, ['"limit" is required',
                                     '"projectIds" is not allowed to be empty']),
    ({"xls": ""}, ['"page" is required', '"limit" is required', '"xls" must be a boolean']),
    ([("xls", "true"), ("xls", "false")], ['"page" is required', '"limit" is required',
                                           '"xls" must be a boolean']),
    ({"warehouseProjectId": ""}, ['"page" is required', '"limit" is required',
                                  '"warehouseProjectId" is not allowed to be empty']),
    ([("projectIds", "a"), ("projectIds", "b")], ['"page" is required', '"limit" is required']),
])
def test_projects_paging_lifted_by_one_value(client: httpx.Client, params: object,
                                             errors: list[str]) -> None:
    assert _errors(client, "/v1/projects", params) == errors


def test_projects_paging_lifted(client: httpx.Client, sim: Simulator) -> None:
    pid = sim.truth("projects")[0]["warehouseProjectId"]
    assert client.get("/v1/projects", params={"projectIds": pid}).json()[0][
        "warehouseProjectId"] == pid
    assert client.get("/v1/projects", params={"warehouseProjectId": pid}).json()[
        "warehouseProjectId"] == pid


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


# ---- /v1/audit ----------------------------------------------------------------------------------
# A 1.7.24 build (v2=False): src/validations/audit.validations.js @ 1.7.24 (page, limit numbers,
# orgUid required, order valid('ASC','DESC'), .with peers) answers in 1.7.24's words; what it
# passes must also pass the newer caps (integers, page 1..100000, limit 1..1000), refused with
# the newer schema's messages. A v2-capable build: auditGetSchema @ 1fec6e8b exactly
# (cadt-v2-facts.md §1.6). Checked against joi 17.13.3 on both schemas.

def _org(sim: Simulator) -> str:
    return max(sim.ledger.orgs, key=lambda u: len(sim.ledger.orgs[u].audit))


@pytest.fixture(scope="module")
def newer() -> Iterator[Simulator]:
    """A v2-capable (newer) build."""
    with Simulator(seed=7, scale=1, v2=True) as s:
        yield s


@pytest.fixture(scope="module")
def nc(newer: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=newer.url, timeout=30) as c:
        yield c


PAGE_RANGE = "Invalid page value. Must be between 1 and 100000"
LIMIT_RANGE = "Invalid limit value. Must be between 1 and 1000"


def test_audit_1724_page_caps(client: httpx.Client, sim: Simulator) -> None:
    org = _org(sim)
    assert client.get("/v1/audit", params={"orgUid": org, "page": 100000, "limit": 1}
                      ).json()["data"] == []
    for page, msg in ((0, PAGE_RANGE), (100001, PAGE_RANGE),
                      (1.5, "Invalid page value. Must be an integer")):
        assert _errors(client, "/v1/audit", {"orgUid": org, "page": page, "limit": 1}) == [msg]
    # what 1.7.24 itself refuses is answered in its words only
    assert _errors(client, "/v1/audit", {"orgUid": org, "page": "x", "limit": 5000}) == [
        '"page" must be a number']


def test_audit_1724_limit_caps(client: httpx.Client, sim: Simulator) -> None:
    org = _org(sim)
    assert client.get("/v1/audit", params={"orgUid": org, "page": 1, "limit": 1000}
                      ).status_code == 200
    for limit, msgs in ((0, [LIMIT_RANGE]), (1001, [LIMIT_RANGE]),
                        (2.5, ["Invalid limit value. Must be an integer"]),
                        (0.5, ["Invalid limit value. Must be an integer", LIMIT_RANGE])):
        assert _errors(client, "/v1/audit", {"orgUid": org, "page": 1, "limit": limit}) == msgs


def test_audit_1724_required_order_and_unknown(client: httpx.Client, sim: Simulator) -> None:
    assert _errors(client, "/v1/audit", {}) == [
        '"page" is required', '"limit" is required', '"orgUid" is required']
    assert _errors(client, "/v1/audit", {"orgUid": "x", "limit": 5}) == [
        '"page" is required', '"limit" missing required peer "page"']
    q = {"orgUid": _org(sim), "page": 1, "limit": 5}
    assert _errors(client, "/v1/audit", {**q, "order": "asc"}) == [
        '"order" must be one of [ASC, DESC]']
    # excludeChange came with the newer builds
    assert _errors(client, "/v1/audit", {**q, "excludeChange": "true"}) == [
        '"excludeChange" is not allowed']


def test_audit_sync_client_query_accepted_by_both(client: httpx.Client, sim: Simulator,
                                                  nc: httpx.Client, newer: Simulator) -> None:
    # what the mirror sends (pipelines/sync: orgUid, page, limit <= 1000, order=ASC)
    for c, s in ((client, sim), (nc, newer)):
        r = c.get("/v1/audit", params={"orgUid": _org(s), "page": 2, "limit": 1000,
                                       "order": "ASC"})
        assert r.status_code == 200, r.text


def test_audit_newer_schema(nc: httpx.Client, newer: Simulator) -> None:
    org = _org(newer)
    assert _errors(nc, "/v1/audit", {}) == ["page is required", "limit is required",
                                            '"orgUid" is required']
    assert _errors(nc, "/v1/audit", {"orgUid": org, "limit": 5}) == [
        "page is required", '"limit" missing required peer "page"']
    assert _errors(nc, "/v1/audit", {"orgUid": org, "page": "x", "limit": 5000}) == [
        "Invalid page value. Must be a number", LIMIT_RANGE]
    assert _errors(nc, "/v1/audit", {"orgUid": org, "page": 0, "limit": 1.5}) == [
        PAGE_RANGE, "Invalid limit value. Must be an integer"]
    # number.unsafe has no custom message: Joi's default words
    assert _errors(nc, "/v1/audit", {"orgUid": org, "page": "1e20", "limit": 5}) == [
        '"page" must be a safe number']


def test_audit_newer_order_goes_to_sequelize(nc: httpx.Client, newer: Simulator) -> None:
    # `order: [['onchainConfirmationTimeStamp', order || 'DESC']]`: Sequelize knows ASC/DESC
    # (any case); another word is quoted into the column name (checked with sequelize 6.37.5
    # and SQLite)
    q = {"orgUid": _org(newer), "page": 1, "limit": 1000}
    up = nc.get("/v1/audit", params={**q, "order": "ASC"}).json()["data"]
    assert nc.get("/v1/audit", params={**q, "order": "asc"}).json()["data"] == up
    stamps = [r["onchainConfirmationTimeStamp"] for r in up]
    assert stamps == sorted(stamps)
    r = nc.get("/v1/audit", params={**q, "order": "newest"})
    assert r.status_code == 400
    assert r.json() == {"message": "Can not retrieve audit data", "success": False,
                        "error": "SQLITE_ERROR: no such column: "
                                 "audit.onchainConfirmationTimeStamp`newest"}


def test_audit_exclude_change(nc: httpx.Client, newer: Simulator) -> None:
    # src/controllers/audit.controller.js (newer, index id 66051749066):
    # `if (excludeChange) queryOptions.attributes = { exclude: ['change'] }`: the key is gone
    q = {"orgUid": _org(newer), "page": 1, "limit": 50, "order": "ASC"}
    full = nc.get("/v1/audit", params=q).json()
    slim = nc.get("/v1/audit", params={**q, "excludeChange": "true"}).json()
    assert full["pageCount"] == slim["pageCount"] and len(slim["data"]) == len(full["data"])
    assert all("change" in r for r in full["data"])
    assert slim["data"] == [{k: v for k, v in r.items() if k != "change"} for r in full["data"]]
    assert nc.get("/v1/audit", params={**q, "excludeChange": "false"}).json() == full
    assert _errors(nc, "/v1/audit", {**q, "excludeChange": "yes"}) == [
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


def test_rate_limit_404s_count(fresh: Simulator) -> None:
    # the limiter is mounted before the routes: requests Express answers 404 use the budget
    with _limited(fresh, "3/60s") as c:
        for left in ("2", "1", "0"):
            r = c.get("/v1/nothing-here")
            assert r.status_code == 404 and r.headers["ratelimit-remaining"] == left
        assert c.get("/v1/organizations").status_code == 429


HEALTH = ("/health", "/v1/health", "/v1/health/wallet", "/v2/health", "/v2/health/wallet")


def test_health_routes_of_newer_builds(newer: Simulator, nc: httpx.Client,
                                       client: httpx.Client) -> None:
    # src/routes/v1/index.js (index id 65808962925), src/routes/v2/index.js, wallet-health.js
    for path in HEALTH:
        for p in (path, "/api" + path):
            r = nc.get(p)
            assert r.status_code == 200 and "timestamp" in r.json(), p
    assert nc.get("/v1/health").json()["message"] == "V1 API is running"
    assert nc.get("/v2/health").json()["message"] == "V2 API is running"
    wallet = nc.get("/v1/health/wallet").json()
    assert nc.get("/v2/health/wallet").json().keys() == wallet.keys()
    assert wallet["synced"] is True
    assert wallet["standardWallet"] == {"walletId": 1, "unconfirmedCount": 0, "rejected": [],
                                        "stuck": []}
    assert wallet["dataLayerWallet"]["available"] is True
    # 1.7.24 has only /health
    assert client.get("/health").status_code == 200
    for path in HEALTH[1:]:
        assert client.get(path).status_code == 404, path


def test_rate_limit_exempts_health_and_admin(newer: Simulator) -> None:
    # HEALTH_ENDPOINTS of the newer middleware, on the paths the simulator serves
    with _limited(newer, "1/60s") as c:
        try:
            assert c.get("/v1/organizations").status_code == 200
            for _ in range(3):
                for path in (*HEALTH, *("/api" + h for h in HEALTH), "/_sim/info",
                             "/_sim/stats"):
                    r = c.get(path)
                    assert r.status_code == 200 and "ratelimit-limit" not in r.headers, path
            r = c.get("/v1/organizations")
            assert r.status_code == 429 and r.headers["ratelimit-limit"] == "1"
        finally:
            newer.set_rate_limit(None)


def test_rate_limit_window_per_client_ip(fresh: Simulator) -> None:
    """A window per client IP (all of 127/8 is loopback)."""
    other = httpx.Client(base_url=fresh.url, timeout=30,
                         transport=httpx.HTTPTransport(local_address="127.0.0.2"))
    with _limited(fresh, "2/60s") as c, other:
        assert [c.get("/v1/organizations").status_code for _ in range(3)] == [200, 200, 429]
        r = other.get("/v1/organizations")
        assert r.status_code == 200 and r.headers["ratelimit-remaining"] == "1"


def test_rate_limiter_fixed_window() -> None:
    """MemoryStore: the window starts with a client's first request and restarts with the first
    request after it ends; hits over the limit count; Reset is the ceiling of what is left."""
    now = [1000.0]
    lim = RateLimiter(RatePolicy(2, 1000), clock=lambda: now[0])
    v = lim.hit("a")
    assert not v.limited and dict(v.headers)[b"RateLimit-Reset"] == b"1"
    now[0] += 0.4
    assert not lim.hit("a").limited
    now[0] += 0.3
    v = lim.hit("a")
    assert v.limited and v.reset_s == 1 and dict(v.headers)[b"Retry-After"] == b"1"
    assert not lim.hit("b").limited  # another client, its own window
    now[0] = 1000.999
    assert lim.hit("a").limited  # 1 ms before the window ends
    now[0] = 1001.0
    v = lim.hit("a")  # the window ended: a new one from this request
    assert not v.limited and dict(v.headers)[b"RateLimit-Remaining"] == b"1"
    now[0] = 1001.5
    v = lim.hit("a")
    assert not v.limited and dict(v.headers)[b"RateLimit-Remaining"] == b"0"
    assert dict(v.headers)[b"RateLimit-Reset"] == b"1"
    now[0] = 1002.0
    v = lim.hit("a")
    assert not v.limited and dict(v.headers)[b"RateLimit-Remaining"] == b"1"


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
