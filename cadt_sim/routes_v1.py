"""CADT v1 read routes with the real server's validation, envelopes and bodies.

Handlers run under the ledger lock, so a response is always built from one consistent state.
The route table at the bottom is data: a v2 module can provide its own table.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from .generator import picklist
from .http import Response, controller_error, json_response, raw_json, validation_error
from .ledger import Ledger, render_audit
from .schema import PROJECT_COLUMNS_WHITELIST, PROJECTS, UNITS
from .serialize import dumps, dumps_body, iso_ms, loads
from .store import ORDER_RE, Filter, QueryError, parse_filter
from .validation import Field, Query, validate

# the real regexes (src/utils/string-utils.js @ 1.7.24), unanchored: shown in messages; the
# validator matches them anchored (stricter), both in JS semantics (validation.js_regex)
FILTER_SRC = r"(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)"
ORDER_SRC = r"(\w+):(ASC|DESC)"
FILTER_PAT = "^" + FILTER_SRC + "$"
ORDER_PAT = "^" + ORDER_SRC + "$"

# src/validations/projects.validations.js @ 1.7.24 (no newer version known)
PROJECT_FIELDS = [
    Field("page", "number"), Field("limit", "number", 1, 1000), Field("search"),
    Field("columns", "array", items_valid=PROJECT_COLUMNS_WHITELIST, max_items=200),
    Field("orgUid"), Field("warehouseProjectId"), Field("xls", "boolean"),
    Field("projectIds", "array", max_items=200),
    Field("order", pattern=ORDER_PAT, shown=ORDER_SRC),
    Field("filter", pattern=FILTER_PAT, shown=FILTER_SRC),
    Field("onlyMarketplaceProjects", "boolean"),
]
# src/validations/units.validations.js @ 1.7.24 (no newer version known)
UNIT_ORDER = Field("order", "alternatives", options=(
    Field("order", valid=("SERIALNUMBER", "ASC", "DESC")),
    Field("order", pattern=ORDER_PAT, shown=ORDER_SRC, min_len=1, max_len=100)))
UNIT_FIELDS = [
    Field("page", "number", 1), Field("limit", "number", 1, 1000), Field("search"),
    Field("warehouseUnitId"), Field("columns", "array", max_items=200), Field("orgUid"),
    UNIT_ORDER, Field("xls", "boolean"), Field("marketplaceIdentifiers", "array", max_items=200),
    Field("hasMarketplaceIdentifier", "boolean"), Field("onlyTokenizedUnits", "boolean"),
    Field("includeProjectInfoInSearch", "boolean"),
    Field("filter", pattern=FILTER_PAT, shown=FILTER_SRC, min_len=1, max_len=100),
]
# src/validations/audit.validations.js @ 1.7.24 (a v2=False build)
AUDIT_FIELDS_1724 = [Field("page", "number"), Field("limit", "number"), Field("orgUid"),
                     Field("order", valid=("ASC", "DESC"))]
# src/validations/audit.validations.js @ 1fec6e8b (auditGetSchema, a v2-capable build's /v1/audit
# and /v2/audit): integers, page 1..100000, limit 1..1000, any order string, excludeChange
AUDIT_FIELDS = [Field("page", "number", 1, 100000, integer=True),
                Field("limit", "number", 1, 1000, integer=True), Field("orgUid"),
                Field("order"), Field("excludeChange", "boolean")]
#: auditGetSchema's custom messages (Joi's default words -> the schema's)
AUDIT_MESSAGES = {
    '"page" must be a number': "Invalid page value. Must be a number",
    '"page" must be an integer': "Invalid page value. Must be an integer",
    '"page" must be greater than or equal to 1': "Invalid page value. Must be between 1 and 100000",
    '"page" must be less than or equal to 100000':
        "Invalid page value. Must be between 1 and 100000",
    '"page" is required': "page is required",
    '"limit" must be a number': "Invalid limit value. Must be a number",
    '"limit" must be an integer': "Invalid limit value. Must be an integer",
    '"limit" must be greater than or equal to 1': "Invalid limit value. Must be between 1 and 1000",
    '"limit" must be less than or equal to 1000':
        "Invalid limit value. Must be between 1 and 1000",
    '"limit" is required': "limit is required",
}
AUDIT_PEERS = (("page", "limit"), ("limit", "page"))
#: Sequelize's order directions (query-generator.js quote(), case-insensitive)
SQL_DIRECTIONS = {"ASC": "ASC", "DESC": "DESC", "ASC NULLS LAST": "ASC", "DESC NULLS LAST": "DESC",
                  "ASC NULLS FIRST": "ASC", "DESC NULLS FIRST": "DESC", "NULLS FIRST": "ASC",
                  "NULLS LAST": "ASC"}


def audit_query(q: Query, newer: bool) -> tuple[dict, list[str]]:
    """The /v1/audit validation of the build. A v2-capable (newer) build: ``auditGetSchema``
    with its messages. A 1.7.24 build: its own schema, exactly (so what 1.7.24 refuses gets
    1.7.24's words); what passes it must also pass the newer caps (page 1..100000, limit
    1..1000, integers: the simulator is at least as strict as either build), whose failures
    get the newer schema's messages."""
    if newer:
        v, errs = validate(q, AUDIT_FIELDS, {"page", "limit", "orgUid"}, with_peers=AUDIT_PEERS)
        return v, [AUDIT_MESSAGES.get(e, e) for e in errs]
    v, errs = validate(q, AUDIT_FIELDS_1724, {"page", "limit", "orgUid"}, with_peers=AUDIT_PEERS)
    if errs:
        return v, errs
    _, errs = validate({k: q[k] for k in ("page", "limit")}, AUDIT_FIELDS[:2], set())
    return v, [AUDIT_MESSAGES.get(e, e) for e in errs]


def envelope(page: int | float, count: int, limit: int | float | None, items: list[bytes]
             ) -> bytes:
    """``{page, pageCount, data}`` (v1 and v2's ``optionallyPaginatedResponse``)."""
    pc = math.ceil(count / (limit or 15))
    return (b'{"page":' + dumps(page) + b',"pageCount":' + str(pc).encode()
            + b',"data":[' + b",".join(items) + b"]}")


def _paging(v: dict) -> tuple[float, float | None]:
    """``paginationParams`` (src/utils/helpers.js @ 1.7.24): page and limit below 1 count as 1,
    offset = (page - 1) * limit, in JS numbers. 1.7.24's units/projects schemas take fractions
    (no ``.integer()``): a fractional offset or limit reaches SQLite, which refuses it
    (:meth:`Table.select`)."""
    page, limit = v.get("page"), v.get("limit")
    if page is None or limit is None:
        return 0, None
    page, limit = (1 if page < 1 else page), (1 if limit < 1 else limit)
    return (page - 1) * limit, limit


def _order(raw: str | None) -> tuple[str, str] | None:
    if raw is None:
        return None
    m = ORDER_RE.match(raw)
    return (m.group(1), m.group(2)) if m else None


def _filter(raw: str | None) -> Filter | None:
    return parse_filter(raw) if raw else None


def _now_iso() -> str:
    return iso_ms(int(time.time() * 1000))


def health(led: Ledger, q: Query) -> Response:
    return json_response({"message": "OK", "timestamp": _now_iso()})


def health_v1(led: Ledger, q: Query) -> Response:
    """GET /v1/health of the newer builds (v1 router, index id 65808962925; its ``diskSpace``
    is not simulated)."""
    return json_response({"message": "V1 API is running", "timestamp": _now_iso()})


def wallet_health(led: Ledger, q: Query) -> Response:
    """GET /v1/health/wallet and /v2/health/wallet of the newer builds:
    ``getWalletHealthResponse`` (src/routes/wallet-health.js, index id 65850735263) of a node
    that is not read-only (``cw-read-only: false``) with a synced, idle wallet."""
    idle = {"unconfirmedCount": 0, "rejected": [], "stuck": []}
    return json_response({"synced": True, "timestamp": _now_iso(),
                          "standardWallet": {"walletId": 1, **idle},
                          "dataLayerWallet": {"walletId": 2, "available": True, **idle}})


def organizations(led: Ledger, q: Query) -> Response:
    return json_response(led.org_map())


def org_metadata(led: Ledger, q: Query) -> Response:
    org = led.orgs.get((q.get("orgUid") or [""])[0])
    return json_response({k: v for k, v in (org.metadata if org else {}).items()})


def org_status(led: Ledger, q: Query) -> Response:
    return json_response({"ready": False, "status": {
        "wallet_synced": False, "home_org_synced": False, "pending_commits": 0,
        "home_org_profile_synced": True}, "success": True})


def _one_string(q: Query, key: str) -> bool:
    """``Joi.string().required()`` in the schema's ``when``: one non-empty value (a repeated key
    is an array, an empty one fails ``string.empty``)."""
    vals = q.get(key)
    return vals is not None and len(vals) == 1 and vals[0] != ""


def projects(led: Ledger, q: Query) -> Response:
    # .when(alternatives(object({projectIds|warehouseProjectId|xls: string().required()})),
    #       then: page/limit optional, otherwise: required)
    free = any(_one_string(q, k) for k in ("projectIds", "warehouseProjectId", "xls"))
    v, errs = validate(q, PROJECT_FIELDS, set() if free else {"page", "limit"})
    if errs:
        return validation_error(errs)
    t = led.db[PROJECTS.name]
    if "warehouseProjectId" in v:
        pk = v["warehouseProjectId"]
        return raw_json(led.db.project_bytes(pk) if pk in t.rows else b"null")
    if v.get("xls"):
        return controller_error("Error retrieving projects", "xls export is not simulated")
    org = v.get("orgUid")
    org = None if org == "all" else org
    offset, limit = _paging(v)
    preds = []
    if v.get("onlyMarketplaceProjects"):
        wanted = _marketplace_projects(led)
        preds.append(lambda r: r["warehouseProjectId"] in wanted)
    try:
        count, pks = t.select(org=org, flt=_filter(v.get("filter")), order=_order(v.get("order")),
                              salt=led.db.epoch, preds=preds, search=v.get("search"),
                              ids=v.get("projectIds"), offset=offset, limit=limit)
    except QueryError as e:
        return controller_error("Error retrieving projects", str(e))
    cols = v.get("columns")
    if cols:
        real = [c for c in dict.fromkeys(cols) if c in PROJECTS.names]
        items = [dumps_body({c: r.get(c) for c in real})
                 for r in (loads(t.rows[pk].data) for pk in pks)]
    else:
        items = [led.db.project_bytes(pk) for pk in pks]
    if v.get("page"):
        return raw_json(envelope(v["page"], count, v.get("limit"), items))
    return raw_json(b"[" + b",".join(items) + b"]")


def _marketplace_projects(led: Ledger) -> set[str]:
    iss = led.db["issuances"]
    out = set()
    for rec in led.db[UNITS.name].rows.values():
        if rec.link and b'"marketplaceIdentifier":"' in rec.data:
            i = iss.rows.get(rec.link)
            if i is not None:
                out.add(loads(i.data).get("warehouseProjectId"))
    return out


def units(led: Ledger, q: Query) -> Response:
    free = any(k in q for k in ("warehouseUnitId", "onlyTokenizedUnits", "xls"))
    fields = UNIT_FIELDS
    if free:
        fields = [Field("limit", "number", 1, 100) if f.name == "limit" else f for f in fields]
    v, errs = validate(q, fields, set() if free else {"page", "limit"}, ("page", "limit"))
    if errs:
        return validation_error(errs)
    t = led.db[UNITS.name]
    if "warehouseUnitId" in v:
        pk = v["warehouseUnitId"]
        return raw_json(led.db.unit_bytes(pk) if pk in t.rows else b"null")
    if v.get("xls"):
        return controller_error("Error retrieving units", "xls export is not simulated")
    org = v.get("orgUid")
    org = None if org == "all" else org
    raw_order = v.get("order")
    order = {"SERIALNUMBER": ("serialNumberBlock", "ASC"), "ASC": ("timeStaged", "ASC"),
             "DESC": ("timeStaged", "DESC")}.get(raw_order or "", _order(raw_order))
    preds: list[Callable[[dict], bool]] = []
    if "marketplaceIdentifiers" in v:
        ids = set(v["marketplaceIdentifiers"])
        preds.append(lambda r: r.get("marketplaceIdentifier") in ids)
    elif "hasMarketplaceIdentifier" in v:
        want = v["hasMarketplaceIdentifier"]
        preds.append(lambda r: (r.get("marketplaceIdentifier") is not None) == want)
    elif "onlyTokenizedUnits" in v:
        want = v["onlyTokenizedUnits"]
        preds.append(lambda r: (r.get("marketplace") == "Tokenized on Chia") == want)
    offset, limit = _paging(v)
    try:
        count, pks = t.select(org=org, flt=_filter(v.get("filter")), order=order,
                              salt=led.db.epoch, preds=preds, search=v.get("search"),
                              offset=offset, limit=limit)
    except QueryError as e:
        return controller_error("Error retrieving units", str(e))
    cols = v.get("columns")
    if cols:
        cols = list(dict.fromkeys(cols))
        real = [c for c in cols if c in UNITS.names]
        wl, wi = "labels" in cols, "issuance" in cols
        items = []
        for pk in pks:
            row = {c: loads(t.rows[pk].data).get(c) for c in real} if real else {}
            if wl or wi:
                full = loads(led.db.unit_bytes(pk, wl, wi))
                if wl:
                    row["labels"] = full["labels"]
                if wi:
                    row["issuance"] = full["issuance"]
            items.append(dumps_body(row))
    else:
        items = [led.db.unit_bytes(pk) for pk in pks]
    if v.get("page"):
        return raw_json(envelope(v["page"], count, v.get("limit"), items))
    return raw_json(b"[" + b",".join(items) + b"]")


def audit(led: Ledger, q: Query) -> Response:
    """GET /v1/audit: 1.7.24's controller, or on a v2-capable build the newer one (index id
    66051749066), which hands ``order`` to Sequelize as the direction: one it does not know is
    quoted into the column name and SQLite refuses it."""
    newer = led.v2 is not None
    v, errs = audit_query(q, newer)
    if errs:
        return validation_error(errs)
    direction = SQL_DIRECTIONS.get(v.get("order", "DESC").upper())
    if direction is None:  # ORDER BY `audit`.`onchainConfirmationTimeStamp``<order>` (ticks
        # removed, dots split into parts: a 4th part is a syntax error)
        word = v["order"].replace("`", "")
        return controller_error("Can not retrieve audit data", 'SQLITE_ERROR: near ".": syntax '
                                "error" if word.count(".") > 1 else "SQLITE_ERROR: no such "
                                "column: audit.onchainConfirmationTimeStamp`" + word)
    org = led.orgs.get(v["orgUid"])
    if org is None:
        return raw_json(envelope(v["page"], 0, v["limit"], []))
    hit = org.audit_cache.get(direction)
    if hit is None or hit[0] != org.audit_version:
        # string sort key, ties keep insertion order (also for DESC, as observed)
        entries = sorted(org.audit, key=lambda e: e.gen.ts, reverse=direction == "DESC")
        org.audit_cache[direction] = hit = (org.audit_version, entries)
    return audit_page(render_audit, org, hit[1], v)


def audit_page(render: Callable[[Any, Any], dict], org: Any, entries: list, v: dict
               ) -> Response:
    """A page of an org's sorted audit rows (v1 and v2); ``excludeChange`` drops ``change``
    (the newer controllers: ``attributes: {exclude: ['change']}``)."""
    offset, limit = _paging(v)
    o, n = int(offset), int(limit) if limit else None  # integers here (the schemas say so)
    rows = [render(org, e) for e in (entries[o:o + n] if n else entries)]
    if v.get("excludeChange"):
        for row in rows:
            del row["change"]
    items = [dumps_body(row) for row in rows]
    return raw_json(envelope(v["page"], len(entries), v["limit"], items))


def find_conflicts(led: Ledger, q: Query) -> Response:
    return raw_json(b"[]")


def home_only(what: str) -> Callable[[Ledger, Query], Response]:
    def handler(led: Ledger, q: Query) -> Response:
        return controller_error(f"Can not retreive {what}",
                                "No Home organization found, please create an organization to "
                                "write data")
    return handler


def governance(led: Ledger, q: Query) -> Response:
    pl = dumps(picklist()).decode()
    org_list = dumps([{"orgUid": u} for u in led.orgs]).decode()
    return json_response([{"id": 1, "metaKey": "pickList", "metaValue": pl, "confirmed": True},
                          {"id": 2, "metaKey": "orgList", "metaValue": org_list,
                           "confirmed": True}])


def governance_exists(led: Ledger, q: Query) -> Response:
    return json_response({"created": True, "success": True})


def pick_list(led: Ledger, q: Query) -> Response:
    return json_response(picklist())


def org_list(led: Ledger, q: Query) -> Response:
    return json_response([{"orgUid": u} for u in led.orgs])


def glossary(led: Ledger, q: Query) -> Response:
    return json_response([])


def staging(led: Ledger, q: Query) -> Response:
    return json_response([])


#: routes only the newer (v2-capable) builds have (v1 router, index id 65808962925)
NEWER_ROUTES: dict[tuple[str, str], Callable[[Ledger, Query], Response]] = {
    ("GET", "/v1/health"): health_v1,
    ("GET", "/v1/health/wallet"): wallet_health,
}

#: (method, path) -> handler; the app also mounts every path under /api
ROUTES: dict[tuple[str, str], Callable[[Ledger, Query], Response]] = {
    ("GET", "/health"): health,
    ("GET", "/v1/organizations"): organizations,
    ("GET", "/v1/organizations/metadata"): org_metadata,
    ("GET", "/v1/organizations/status"): org_status,
    ("GET", "/v1/projects"): projects,
    ("GET", "/v1/units"): units,
    ("GET", "/v1/audit"): audit,
    ("GET", "/v1/audit/findConflicts"): find_conflicts,
    ("GET", "/v1/issuances"): home_only("issuances"),
    ("GET", "/v1/labels"): home_only("labels"),
    ("GET", "/v1/governance"): governance,
    ("GET", "/v1/governance/exists"): governance_exists,
    ("GET", "/v1/governance/meta/pickList"): pick_list,
    ("GET", "/v1/governance/meta/orgList"): org_list,
    ("GET", "/v1/governance/meta/glossary"): glossary,
    ("GET", "/v1/staging"): staging,
}
