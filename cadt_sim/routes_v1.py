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

FILTER_PAT = r"^(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)$"
ORDER_PAT = r"^(\w+):(ASC|DESC)$"
# the real regexes (src/utils/string-utils.js), unanchored: shown in messages; we match anchored
FILTER_SRC = r"(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)"
ORDER_SRC = r"(\w+):(ASC|DESC)"

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
# src/validations/audit.validations.js: the newer builds' limits (@ 1fec6e8b: page 1..100000,
# limit 1..1000, integers, excludeChange) with 1.7.24's stricter order (ASC|DESC) and peers
AUDIT_FIELDS = [Field("page", "number", 1, 100000, integer=True),
                Field("limit", "number", 1, 1000, integer=True), Field("orgUid"),
                Field("order", valid=("ASC", "DESC")), Field("excludeChange", "boolean")]
AUDIT_PEERS = (("page", "limit"), ("limit", "page"))


def envelope(page: int | float, count: int, limit: int | float | None, items: list[bytes]
             ) -> bytes:
    """``{page, pageCount, data}`` (v1 and v2's ``optionallyPaginatedResponse``)."""
    pc = math.ceil(count / (limit or 15))
    return (b'{"page":' + dumps(page) + b',"pageCount":' + str(pc).encode()
            + b',"data":[' + b",".join(items) + b"]}")


def _paging(v: dict) -> tuple[int, int | None]:
    page, limit = v.get("page"), v.get("limit")
    if page is None or limit is None:
        return 0, None
    limit = max(int(limit), 1)
    return (max(int(page), 1) - 1) * limit, limit


def _order(raw: str | None) -> tuple[str, str] | None:
    if raw is None:
        return None
    m = ORDER_RE.match(raw)
    return (m.group(1), m.group(2)) if m else None


def _filter(raw: str | None) -> Filter | None:
    return parse_filter(raw) if raw else None


def health(led: Ledger, q: Query) -> Response:
    return json_response({"message": "OK", "timestamp": iso_ms(int(time.time() * 1000))})


def organizations(led: Ledger, q: Query) -> Response:
    return json_response(led.org_map())


def org_metadata(led: Ledger, q: Query) -> Response:
    org = led.orgs.get((q.get("orgUid") or [""])[0])
    return json_response({k: v for k, v in (org.metadata if org else {}).items()})


def org_status(led: Ledger, q: Query) -> Response:
    return json_response({"ready": False, "status": {
        "wallet_synced": False, "home_org_synced": False, "pending_commits": 0,
        "home_org_profile_synced": True}, "success": True})


def projects(led: Ledger, q: Query) -> Response:
    vals = q.get("projectIds")
    free = ("warehouseProjectId" in q or "xls" in q or (vals is not None and len(vals) == 1))
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
    v, errs = validate(q, AUDIT_FIELDS, {"orgUid", "page", "limit"}, with_peers=AUDIT_PEERS)
    if errs:
        return validation_error(errs)
    org = led.orgs.get(v["orgUid"])
    if org is None:
        return raw_json(envelope(v["page"], 0, v["limit"], []))
    direction = v.get("order", "DESC")
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
    rows = [render(org, e) for e in (entries[offset:offset + limit] if limit else entries)]
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
