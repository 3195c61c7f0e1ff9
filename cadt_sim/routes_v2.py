"""CADT data model v2 read routes (``/v2/...``) with the newest server's Joi validators,
controller limits, envelopes and bodies (``../shared/cadt-v2-facts.md`` §1-§3).

Handlers run under the ledger lock like the v1 ones. Every list takes required ``page`` and
``limit``; only project and unit take ``filter``/``order``/``search``; child lists filter
``orgUid`` through an inner join to the parent; ``GET /v2/<resource>/<id>`` is matched by
:func:`resolve` (the route table holds exact paths only).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import orjson

from . import query_v2
from .generator_v2 import picklists as pick_list
from .http import Response, controller_error, json_response, raw_json, validation_error
from .ledger import Ledger
from .ledger_v2 import OrgV2, V2Ledger, render_audit
from .routes_v1 import (
    AUDIT_FIELDS,
    AUDIT_MESSAGES,
    AUDIT_PEERS,
    audit_page,
    envelope,
    find_conflicts,
    glossary,
    governance_exists,
    org_status,
    wallet_health,
)
from .schema_v2 import (
    BY_ROUTE,
    PROJECT,
    PROJECT_ASSOCIATIONS,
    PROJECT_ORDER_COLUMNS,
    TABLES,
    UNIT,
    UNIT_ASSOCIATIONS,
    UNIT_ORDER_COLUMNS,
    V2Table,
)
from .serialize import dumps_body, iso_ms, loads
from .store import ORDER_RE, QueryError, tie_key
from .validation import Field, Query, js_regex, validate

Handler = Callable[[Ledger, Query], Response]
#: src/utils/string-utils.js (index id 66361544037) and the unit controller's own regex, in JS
#: semantics: ``.`` stops at line terminators and ``$`` is the very end, so a filter with a
#: newline in it does not match and is silently ignored, as on the real node
PROJECT_FILTER_RE = js_regex(r"^(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)$")
UNIT_FILTER_RE = js_regex(r"^(\w+):(.+):(\w+)$")
ARRAY_RE = js_regex(r"^\[.*\]$")
UUID4_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\Z",
                      re.IGNORECASE)

# ---- Joi schemas ----------------------------------------------------------------------------
def _alt(name: str) -> Field:
    """``Joi.alternatives().try(Joi.string(), Joi.array().items(Joi.string()))``."""
    return Field(name, "alternatives", options=(Field(name), Field(name, "array")))


# src/validations/v2/pagination-v2.validations.js @ 294cbd5b: custom messages
PAGINATION = [Field("page", "number", 1, integer=True),
              Field("limit", "number", 1, 1000, integer=True)]
PAGINATION_MESSAGES = {
    '"page" must be a number': "page must be a number",
    '"page" must be an integer': "page must be an integer",
    '"page" must be greater than or equal to 1': "page must be at least 1",
    '"page" is required': "page is required",
    '"limit" must be a number': "limit must be a number",
    '"limit" must be an integer': "limit must be an integer",
    '"limit" must be greater than or equal to 1': "limit must be at least 1",
    '"limit" must be less than or equal to 1000': "limit must not exceed 1000",
    '"limit" is required': "limit is required",
}
# src/routes/v2/resources/project-v2.js @ 25781ab5 (Joi default messages, xls lifts page/limit)
PROJECT_FIELDS = [*PAGINATION, _alt("columns"), Field("xls", "boolean"), _alt("projectIds"),
                  Field("orgUid"), Field("filter"), Field("order"), Field("search"),
                  Field("onlyMarketplaceProjects", "boolean")]
# src/validations/v2/unit-v2.validations.js @ 25781ab5 (unitV2QuerySchema)
UNIT_FIELDS = [*PAGINATION, _alt("columns"), Field("xls", "boolean"), Field("orgUid"),
               Field("filter"), Field("order"), Field("search"),
               Field("includeProjectInfoInSearch", "boolean"),
               Field("marketplaceIdentifiers", "array", max_items=200),
               Field("hasMarketplaceIdentifier", "boolean"),
               Field("onlyTokenizedUnits", "boolean")]
def _child_fields(spec: V2Table) -> list[Field]:
    """``Joi.object({...paginationSchema, orgUid, [createdByOrgUid]})`` of the child routes."""
    out = list(PAGINATION)
    if spec.columns_param:
        out.append(_alt("columns"))
    out.append(Field("orgUid"))
    if spec.created_by:
        out.append(Field("createdByOrgUid"))
    return out


def _v2(led: Ledger) -> V2Ledger:
    v2 = led.v2
    assert v2 is not None, "the ledger has no v2 side"
    return v2


def _paging(v: dict) -> tuple[int, int]:
    limit = max(int(v["limit"]), 1)
    return (max(int(v["page"]), 1) - 1) * limit, limit


class _NoHomeOrg(Exception):
    """``resolveOrgUid('me')`` on an observer (src/utils/owner-utils.js @ 294cbd5b)."""


def _resolve(org: str | None) -> str | None:
    if org == "me":
        raise _NoHomeOrg("No home organization configured")
    return org


def child_list(spec: V2Table) -> Handler:
    fields = _child_fields(spec)

    def handler(led: Ledger, q: Query) -> Response:
        v, errs = validate(q, fields, {"page", "limit"})
        if errs:
            return validation_error([PAGINATION_MESSAGES.get(e, e) for e in errs])
        v2 = _v2(led)
        try:
            org, by = _resolve(v.get("orgUid")), _resolve(v.get("createdByOrgUid"))
        except _NoHomeOrg as e:
            return controller_error(f"Error retrieving {spec.plural}", str(e))
        pks = query_v2.child_keys(v2, spec, org, by)
        offset, limit = _paging(v)
        data = v2[spec.name].rows
        items = [data[pk].data for pk in pks[offset:offset + limit]]
        return raw_json(envelope(v["page"], len(pks), v["limit"], items))

    return handler


# -- project / unit ---------------------------------------------------------------------------
def _split_list(vals: list[str]) -> list[str]:
    """projectIds: a lone string is split on commas, repeated keys are an array."""
    return [x.strip() for x in vals[0].split(",")] if len(vals) == 1 else list(vals)


def _order(raw: str | None, what: str, whitelist: tuple[str, ...], spec: V2Table
           ) -> tuple[str, str] | Response | None:
    """The controllers' order checks; the whitelisted camelCase name becomes its column."""
    if raw is None:
        return None
    err = f"Error retrieving {what}"
    if len(raw) > 200:
        return controller_error(err, "Order parameter exceeds maximum length")
    m = ORDER_RE.match(raw)
    if m is None:
        return controller_error(err, f"Invalid order format: {raw}. Expected format: "
                                     "columnName:ASC or columnName:DESC")
    col, direction = m.group(1), m.group(2).upper()
    if col not in whitelist:
        return controller_error(err, f"Invalid sort column: {col}. Valid columns are: "
                                     f"{', '.join(whitelist)}")
    served = {"createdAt": spec.created, "updatedAt": spec.updated}.get(col, col)
    return served, direction


def _filter(raw: str | None, what: str, rx: re.Pattern[str]
            ) -> tuple[str, query_v2.Cond] | Response | None:
    if raw is None:
        return None
    err = f"Error retrieving {what}"
    if len(raw) > 10000:
        return controller_error(err, "Filter parameter exceeds maximum length")
    m = rx.match(raw)
    if m is None:  # silently ignored, like the real controllers
        return None
    col, val, op = m.groups()
    if len(val) > 5000:
        return controller_error(err, "Filter value exceeds maximum length")
    value: Any = val
    if ARRAY_RE.match(val):
        try:
            value = orjson.loads(val)
        except orjson.JSONDecodeError:  # JSON.parse throws; the controller answers 400
            return controller_error(err, f"Unexpected token in JSON: {val[:50]!r} is not "
                                         "valid JSON")
    return col, (col, op, value)


def _search(v2: V2Ledger, spec: V2Table, search: str, org: str | None, v: dict,
            where: dict[str, query_v2.Cond], extra: Callable[[str], bool] | None = None
            ) -> Response | None:
    """The FTS step: its page of ids replaces the primary-key condition (then the main query
    paginates again: from page 2 on the result is empty, as on the real node)."""
    offset, limit = _paging(v)
    matches = query_v2.fts(v2, spec, search, org, extra)
    page_ids = matches[offset:offset + limit]
    if not page_ids:
        return raw_json(envelope(v["page"], len(matches), v["limit"], []))
    cur = where.get(spec.pk)
    if isinstance(cur, tuple) and cur[1] == "in":
        have = cur[2] if isinstance(cur[2], list) else [cur[2]]
        keep = [i for i in have if i in set(page_ids)]
        where[spec.pk] = (spec.pk, "in", keep or ["no-match"])
    else:
        where[spec.pk] = (spec.pk, "in", page_ids)
    return None


Include = tuple[str, Callable[[str, dict], Any]]  # (alias, (project id, row) -> value)
#: the controller's include order (program, locations, estimations, ratings, coBenefits)
_INCLUDE_ALIAS = {"program": "program", "location": "locations", "estimation": "estimations",
                  "rating": "ratings", "co_benefit": "coBenefits"}


def _includes(v2: V2Ledger, names: list[str]) -> list[Include]:
    """project includes: the program (belongsTo, or null) and child arrays (hasMany)."""
    want = {PROJECT_ASSOCIATIONS[n] for n in names}
    out: list[Include] = []
    for table, alias in _INCLUDE_ALIAS.items():
        if table not in want:
            continue
        if table == "program":
            prog = v2["program"].rows

            def program(pk: str, row: dict, _p: Any = prog) -> Any:
                rec = _p.get(row.get("cadTrustProgramId") or "")
                return loads(rec.data) if rec is not None else None

            out.append((alias, program))
            continue
        groups: dict[str, list[bytes]] = {}
        for rec in v2[table].rows.values():
            if rec.link is not None:
                groups.setdefault(rec.link, []).append(rec.data)
        out.append((alias, lambda pk, row, _g=groups: [loads(x) for x in _g.get(pk, [])]))
    return out


def _render_project(v2: V2Ledger, pk: str, attrs: list[str] | None, inc: list[Include]
                    ) -> bytes:
    rec = v2["project"].rows[pk]
    if attrs is None and not inc:
        return rec.data
    row = loads(rec.data)
    body = row if attrs is None else {c: row.get(c) for c in attrs}
    for alias, value in inc:
        body[alias] = value(pk, row)
    return dumps_body(body)


def _columns(vals: list[str] | None, whitelist: tuple[str, ...], assoc: Any, pk: str
             ) -> tuple[list[str] | None, list[str]] | None:
    """(attributes or None = all, requested associations); None when no ``columns``."""
    if vals is None:
        return None
    cols = _split_list(vals)
    valid = [c for c in cols if c in whitelist or c in assoc]
    if not valid:
        valid = [pk]
    regular = list(dict.fromkeys(c for c in valid if c not in assoc))
    return (regular or None), [c for c in valid if c in assoc]


def _check_attrs(attrs: list[str] | None, spec: V2Table) -> None:
    """``attributes: ['createdAt']`` selects a column the table does not have (the timestamp
    attributes of project/unit are created_at/updated_at)."""
    for c in attrs or ():
        if c not in spec.names:
            raise QueryError(f"SQLITE_ERROR: no such column: {c}")


def _list_request(led: Ledger, q: Query, spec: V2Table, fields: list[Field],
                  filter_rx: re.Pattern[str]
                  ) -> tuple[dict, V2Ledger, str | None, dict[str, query_v2.Cond]] | Response:
    """What the project and unit lists do first: check the query (``xls`` lifts page/limit),
    refuse xls (not simulated) and ``orgUid=me``, and turn ``filter`` and, without ``search``
    (its FTS step applies it), ``orgUid`` into conditions. Returns (values, v2, orgUid, where)."""
    v, errs = validate(q, fields, set() if "xls" in q else {"page", "limit"})
    if errs:
        return validation_error(errs)
    err = f"Error retrieving {spec.plural}"
    if v.get("xls"):
        return controller_error(err, "xls export is not simulated")
    try:
        org = _resolve(v.get("orgUid"))
    except _NoHomeOrg as e:
        return controller_error(err, str(e))
    where: dict[str, query_v2.Cond] = {}
    f = _filter(v.get("filter"), spec.plural, filter_rx)
    if isinstance(f, Response):
        return f
    if f is not None:
        where[f[0]] = f[1]
    if org and not v.get("search"):
        where["orgUid"] = ("orgUid", "eq", org)
    return v, _v2(led), org, where


def _search_and_order(v2: V2Ledger, spec: V2Table, v: dict, org: str | None,
                      where: dict[str, query_v2.Cond], whitelist: tuple[str, ...],
                      extra: Callable[[str], bool] | None = None
                      ) -> tuple[str, str] | Response | None:
    """The FTS step of ``search`` (its empty page answers early), then ``order``."""
    if v.get("search"):
        early = _search(v2, spec, v["search"], org, v, where, extra)
        if early is not None:
            return early
    return _order(v.get("order"), spec.plural, whitelist, spec)


def projects(led: Ledger, q: Query) -> Response:
    """GET /v2/project (controller `src/controllers/v2/project-v2.controller.js` @ 0d9a979f)."""
    req = _list_request(led, q, PROJECT, PROJECT_FIELDS, PROJECT_FILTER_RE)
    if isinstance(req, Response):
        return req
    v, v2, org, where = req
    err = "Error retrieving projects"
    if "projectIds" in v:
        ids = _split_list(q["projectIds"])
        if len(ids) > 10000:
            return controller_error(err, "projectIds exceeds maximum length of 10000")
        where["cadTrustProjectId"] = ("cadTrustProjectId", "in", ids)
    if v.get("onlyMarketplaceProjects"):
        ids = query_v2.tokenized_projects(v2)
        where["cadTrustProjectId"] = ("cadTrustProjectId", "in", ids)
    cols = _columns(q.get("columns"), PROJECT_ORDER_COLUMNS, PROJECT_ASSOCIATIONS, PROJECT.pk)
    order = _search_and_order(v2, PROJECT, v, org, where, PROJECT_ORDER_COLUMNS)
    if isinstance(order, Response):
        return order
    offset, limit = _paging(v)
    try:
        attrs, assoc = cols if cols is not None else (None, [])
        if assoc and attrs is not None and PROJECT.pk not in attrs:
            attrs = [PROJECT.pk, *attrs]  # Sequelize adds the key when it joins
        _check_attrs(attrs, PROJECT)
        count, pks = query_v2.run(v2, PROJECT, "ProjectV2", where, order, offset, limit)
    except QueryError as e:
        return controller_error(err, str(e))
    inc = _includes(v2, assoc) if assoc else []
    items = [_render_project(v2, pk, attrs, inc) for pk in pks]
    return raw_json(envelope(v["page"], count, v["limit"], items))


def units(led: Ledger, q: Query) -> Response:
    """GET /v2/unit (controller `src/controllers/v2/unit-v2.controller.js` @ f97f7d78)."""
    req = _list_request(led, q, UNIT, UNIT_FIELDS, UNIT_FILTER_RE)
    if isinstance(req, Response):
        return req
    v, v2, org, where = req
    if "marketplaceIdentifiers" in v:
        ids = set(v["marketplaceIdentifiers"])
        where["marketplaceIdentifier"] = lambda r: r.get("marketplaceIdentifier") in ids
    if v.get("hasMarketplaceIdentifier") is True:
        where["marketplaceIdentifier"] = lambda r: r.get("marketplaceIdentifier") is not None
    elif v.get("hasMarketplaceIdentifier") is False:
        where["marketplaceIdentifier"] = lambda r: r.get("marketplaceIdentifier") is None
    if v.get("onlyTokenizedUnits") is True:
        where["marketplaceIdentifier"] = lambda r: r.get("marketplaceIdentifier") is not None
        where["marketplace"] = lambda r: r.get("marketplace") == "Tokenized on Chia"
    elif v.get("onlyTokenizedUnits") is False:
        where["__not_tokenized"] = query_v2.not_tokenized
    cols = _columns(q.get("columns"), UNIT_ORDER_COLUMNS, UNIT_ASSOCIATIONS, UNIT.pk)
    extra = (query_v2.project_match(v2, v["search"])
             if v.get("search") and v.get("includeProjectInfoInSearch") else None)
    order = _search_and_order(v2, UNIT, v, org, where, UNIT_ORDER_COLUMNS, extra)
    if isinstance(order, Response):
        return order
    offset, limit = _paging(v)
    attrs = cols[0] if cols is not None else None  # associations are accepted and dropped
    try:
        _check_attrs(attrs, UNIT)
        count, pks = query_v2.run(v2, UNIT, "UnitV2", where, order, offset, limit)
    except QueryError as e:
        return controller_error("Error retrieving units", str(e))
    recs = v2["unit"].rows
    if attrs is None:
        items = [recs[pk].data for pk in pks]
    else:
        items = [dumps_body({c: r.get(c) for c in attrs})
                 for r in (loads(recs[pk].data) for pk in pks)]
    return raw_json(envelope(v["page"], count, v["limit"], items))


# ---- single records -------------------------------------------------------------------------
def one(spec: V2Table, rid: str) -> Handler:
    """GET /v2/<resource>/<id>: the bare record or 404 ``{message: "<X> not found"}``."""

    def handler(led: Ledger, q: Query) -> Response:
        if spec.uuid_check and not UUID4_RE.match(rid):
            return json_response({"success": False,
                                  "message": f"Invalid {spec.name} ID format"}, 400)
        v2 = _v2(led)
        rec = v2[spec.name].rows.get(rid)
        if rec is None:
            return json_response({"message": f"{spec.label} not found", "success": False}, 404)
        cols = _split_list(q["columns"]) if "columns" in q else []
        if spec is PROJECT:
            assoc = [c for c in cols if c in PROJECT_ASSOCIATIONS]
            if assoc:
                return raw_json(_render_project(v2, rid, None, _includes(v2, assoc)))
        elif spec.name in ("validation", "verification") and cols:
            row = loads(rec.data)
            if "project" in cols:
                p = v2["project"].rows.get(row.get("cadTrustProjectId") or "")
                row["project"] = loads(p.data) if p is not None else None
            if spec.name == "verification" and "validation" in cols:
                p = v2["validation"].rows.get(row.get("cadTrustValidationId") or "")
                row["validation"] = loads(p.data) if p is not None else None
            return json_response(row)
        return raw_json(rec.data)

    return handler


def resolve(method: str, route: str) -> Handler | None:
    """``/v2/<resource>/<id>`` (every list resource has one; no composite-key routes)."""
    if method not in ("GET", "HEAD") or not route.startswith("/v2/"):
        return None
    parts = route[4:].split("/")
    if len(parts) != 2 or not parts[1]:
        return None
    spec = BY_ROUTE.get("/v2/" + parts[0])
    return one(spec, parts[1]) if spec is not None else None


# ---- audit, organizations, governance, health --------------------------------------------------
def _audit_entries(v2: V2Ledger, org: OrgV2, direction: str) -> list:
    """ORDER BY onchain_confirmation_time_stamp only: rows of one generation have no defined
    order, so their order is reshuffled on every v2 commit."""
    hit = org.audit_cache.get(direction)
    if hit is not None and hit[0] == (org.audit_version, v2.epoch):
        return hit[1]
    salt = v2.epoch
    tie = tie_key(salt)
    entries = sorted(org.audit, key=lambda e: (e.gen.ts, tie(str(e.id))),
                     reverse=direction == "DESC")
    org.audit_cache[direction] = ((org.audit_version, salt), entries)
    return entries


def audit(led: Ledger, q: Query) -> Response:
    """GET /v2/audit (`src/controllers/v2/audit-v2.controller.js` @ 1fec6e8b, model
    `audit-v2.model.js` @ 46af1491)."""
    # auditGetSchema (src/validations/audit.validations.js @ 1fec6e8b, shared with /v1/audit)
    v, errs = validate(q, AUDIT_FIELDS, {"page", "limit", "orgUid"}, with_peers=AUDIT_PEERS)
    if errs:
        return validation_error([AUDIT_MESSAGES.get(e, e) for e in errs])
    v2 = _v2(led)
    org = v2.orgs.get(v["orgUid"])
    if org is None:
        return controller_error("Cannot retrieve audit data",
                                f"The orgUid: {v['orgUid']} is not in the list of subscribed "
                                "organizations")
    raw = v.get("order")
    direction = raw.upper() if raw and raw.upper() in ("ASC", "DESC") else "DESC"
    return audit_page(render_audit, org, _audit_entries(v2, org, direction), v)


def organizations(led: Ledger, q: Query) -> Response:
    """GET /v2/organizations: a bare snake_case map of the orgs that have a v2 store."""
    return json_response(_v2(led).org_map())


def org_metadata(led: Ledger, q: Query) -> Response:
    org = _v2(led).orgs.get((q.get("orgUid") or [""])[0])
    return json_response(dict(org.metadata) if org else {})


def governance_pick_list(led: Ledger, q: Query) -> Response:
    return json_response(pick_list())


def governance_org_list(led: Ledger, q: Query) -> Response:
    return json_response([{"orgUid": u} for u in _v2(led).orgs])


def health(led: Ledger, q: Query) -> Response:
    return json_response({"message": "V2 API is running",
                          "timestamp": iso_ms(int(time.time() * 1000))})


#: (method, path) -> handler; the app also mounts every path under /api
ROUTES: dict[tuple[str, str], Handler] = {
    ("GET", "/v2/health"): health,
    ("GET", "/v2/health/wallet"): wallet_health,
    ("GET", "/v2/organizations"): organizations,
    ("GET", "/v2/organizations/metadata"): org_metadata,
    ("GET", "/v2/organizations/status"): org_status,
    ("GET", "/v2/audit"): audit,
    ("GET", "/v2/audit/findConflicts"): find_conflicts,
    ("GET", "/v2/governance/exists"): governance_exists,
    ("GET", "/v2/governance/meta/pickList"): governance_pick_list,
    ("GET", "/v2/governance/meta/orgList"): governance_org_list,
    ("GET", "/v2/governance/meta/glossary"): glossary,
    ("GET", "/v2/project"): projects,
    ("GET", "/v2/unit"): units,
    **{("GET", t.route): child_list(t) for t in TABLES if t not in (PROJECT, UNIT)},
}


def header_orgs(led: Ledger, route: str) -> list[Any]:
    """Orgs behind ``x-data-synced`` / ``x-sync-remaining``: the v2 map on /v2 routes."""
    if route.startswith("/v2/") and led.v2 is not None:
        return list(led.v2.orgs.values())
    return list(led.orgs.values())

