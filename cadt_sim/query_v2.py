"""The v2 list queries as the node runs them (Sequelize on SQLite): index paths for orgUid,
primary-key lists and key ranges (keyset crawls), predicates on decoded rows otherwise, default
orders that are not total (ties reshuffled on every v2 commit), the parent joins of ``orgUid``
on child tables, and the FTS step of ``search``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .ledger_v2 import V2Ledger
from .schema_v2 import BY_NAME, PROJECT, TS, V2Table, snake
from .serialize import loads
from .store import QueryError, tie_key
from .store_v2 import fts_match, fts_tokens, order_key, predicate, stored


# ---- list queries ---------------------------------------------------------------------------
def org_of(v2: V2Ledger, spec: V2Table, pk: str) -> str | None:
    """The owner at the end of the table's org_path (None when a link is missing)."""
    rec = v2[spec.name].rows[pk]
    if not spec.org_path:
        return rec.owner
    link: str | None = rec.link
    for _fk, parent in spec.org_path:
        if link is None:
            return None
        prec = v2[parent].rows.get(link)
        if prec is None:
            return None
        link = prec.link if BY_NAME[parent].org_path else prec.owner
    return link


def default_order(v2: V2Ledger, spec: V2Table, pks: list[str] | None = None) -> list[str]:
    """The table's default ORDER BY with ties in an order reshuffled on every v2 commit (no
    ORDER BY: rowid order)."""
    rows = v2[spec.name]
    salt = v2.epoch
    if pks is None:
        hit = rows.cache.get("default")
        if hit is not None and hit[0] == rows.version and hit[1] == salt:
            return hit[2]
        pks = list(rows.rows)
        cacheable = True
    else:
        cacheable = False
    if spec.order is not None:
        col, direction = spec.order
        recs, tie = rows.rows, tie_key(salt)
        if col == spec.created:
            def key(pk: str) -> tuple:
                return (recs[pk].created, tie(pk))
        else:
            kf = order_key(spec, col)

            def key(pk: str) -> tuple:
                return (kf(loads(recs[pk].data)), tie(pk))
        pks = sorted(pks, key=key, reverse=direction == "DESC")
    if cacheable:
        rows.cache["default"] = (rows.version, salt, pks)
    return pks


def child_keys(v2: V2Ledger, spec: V2Table, org: str | None, created_by: str | None
                ) -> list[str]:
    rows = v2[spec.name]
    key = ("list", org, created_by)
    versions = sum(v2[t].version for _, t in spec.org_path) + rows.version
    hit = rows.cache.get(key)
    if hit is not None and hit[0] == versions and hit[1] == v2.epoch:
        return hit[2]
    pks = default_order(v2, spec)
    if created_by is not None:
        pks = [pk for pk in pks if rows.rows[pk].owner == created_by]
    if org is not None:
        pks = [pk for pk in pks if org_of(v2, spec, pk) == org]
    if len(rows.cache) > 64:
        rows.cache.clear()
    rows.cache[key] = (versions, v2.epoch, pks)
    return pks


Cond = tuple[str, str, Any] | Callable[[dict], bool]  # (column, op, value) or a SQL literal


def run(v2: V2Ledger, spec: V2Table, model: str, where: dict[str, Cond],
         order: tuple[str, str] | None, offset: int, limit: int) -> tuple[int, list[str]]:
    """findAndCountAll over one table: index paths for orgUid, the primary key ``in`` and key
    ranges (keyset crawls), predicates on decoded rows for the rest."""
    rows = v2[spec.name]
    recs = rows.rows
    pk = spec.pk
    org: str | None = None
    ids: list[str] | None = None
    key_range: tuple[str, str] | None = None
    preds: list[Callable[[dict], bool]] = []
    for _col, cond in where.items():
        if callable(cond):
            preds.append(cond)
            continue
        c, op, val = cond
        if c == "orgUid" and op == "eq" and isinstance(val, str):
            org = val
        elif c in (pk, snake(pk)) and op == "in" and ids is None:
            vals = val if isinstance(val, list) else [val]
            ids = [str(x) for x in vals if x is not None]
        elif c in (pk, snake(pk)) and op in ("gt", "gte", "lt", "lte") and key_range is None \
                and isinstance(val, str):
            key_range = (op, val)
        else:
            preds.append(predicate(spec, model, c, op, val))
    if order is not None and order[0] not in spec.names:
        raise QueryError(f"SQLITE_ERROR: no such column: {model}.{order[0]}")
    if ids is not None:
        cand = [i for i in dict.fromkeys(ids) if i in recs]
        if org is not None:
            cand = [i for i in cand if recs[i].owner == org]
        if key_range is not None:
            f = predicate(spec, model, pk, *key_range)
            cand = [i for i in cand if f({pk: i})]
        in_pk_order = False
    elif key_range is not None:
        cand, in_pk_order = rows.key_range(org, *key_range), True
    elif org is not None:
        cand, in_pk_order = rows.sorted_keys(org), True
    else:
        cand, in_pk_order = None, False  # the whole table
    if preds:
        base = cand if cand is not None else list(recs)
        out = []
        for k in base:
            r = loads(recs[k].data)
            if all(p(r) for p in preds):
                out.append(k)
        cand = out
    salt = v2.epoch
    if order is None:
        pks = default_order(v2, spec, cand)
    elif order[0] == pk:
        if cand is None:
            cand, in_pk_order = rows.sorted_keys(), True
        pks = cand if in_pk_order else sorted(cand)
        if order[1] == "DESC":
            pks = pks[::-1]
    else:
        base = cand if cand is not None else list(recs)
        tie = tie_key(salt)
        if order[0] == spec.created:  # kept on the record: no decoding
            def key(k: str) -> tuple:
                return (recs[k].created, tie(k))
        else:
            kf = order_key(spec, order[0])

            def key(k: str) -> tuple:
                return (kf(loads(recs[k].data)), tie(k))
        pks = sorted(base, key=key, reverse=order[1] == "DESC")
    return len(pks), pks[offset:offset + limit]


def fts_text(spec: V2Table, row: dict) -> list[str]:
    parts = []
    for col, typ in spec.columns:
        if typ == TS:
            continue
        v = stored(typ, row.get(col))
        if v is not None:
            parts.append(str(v))
    return fts_tokens(" ".join(parts))


def fts(v2: V2Ledger, spec: V2Table, search: str, org: str | None,
         extra: Callable[[str], bool] | None = None) -> list[str]:
    """The FTS5 table's matches (assetIds also as ``0x<search>``), orgUid applied inside."""
    recs = v2[spec.name].rows
    hex_q = "0x" + search.strip()
    out = []
    for pk, rec in recs.items():
        if org is not None and rec.owner != org:
            continue
        toks = fts_text(spec, loads(rec.data))
        if fts_match(search, toks) or hex_q.casefold() in toks or (extra and extra(pk)):
            out.append(pk)
    return out


def tokenized_projects(v2: V2Ledger) -> list[str]:
    """``ProjectV2.getTokenizedProjectIds``: project -> validation -> verification (by its
    cadTrustValidationId) -> issuance -> unit with a non-empty marketplaceIdentifier."""
    iss_of: dict[str, str] = {}
    for pk, rec in v2["unit"].rows.items():
        row = loads(rec.data)
        if row.get("marketplaceIdentifier") not in (None, ""):
            iss_of[pk] = row.get("cadTrustIssuanceId") or ""
    ver = {loads(v2["issuance"].rows[i].data).get("cadTrustVerificationId")
           for i in iss_of.values() if i in v2["issuance"].rows}
    val = {loads(r.data).get("cadTrustValidationId") for k, r in v2["verification"].rows.items()
           if k in ver}
    out = []
    for k in val:
        r = v2["validation"].rows.get(k or "")
        if r is not None and r.link is not None and r.link in v2["project"].rows:
            out.append(r.link)
    return list(dict.fromkeys(out))


def not_tokenized(r: dict) -> bool:
    """``NOT (marketplace = 'Tokenized on Chia' AND marketplace_identifier IS NOT NULL)`` in SQL
    three-valued logic: a NULL marketplace with an identifier is NULL, i.e. not a match."""
    m, ident = r.get("marketplace"), r.get("marketplaceIdentifier")
    inner: bool | None = (None if m is None else m == "Tokenized on Chia")
    has = ident is not None
    return inner is False or not has


def project_match(v2: V2Ledger, search: str) -> Callable[[str], bool]:
    """includeProjectInfoInSearch: units whose project (issuance -> verification -> project)
    matches the project FTS table."""
    hits = set(fts(v2, PROJECT, search, None))
    iss, ver, units_t = v2["issuance"].rows, v2["verification"].rows, v2["unit"].rows

    def match(pk: str) -> bool:
        i = iss.get(loads(units_t[pk].data).get("cadTrustIssuanceId") or "")
        vr = ver.get(i.link) if i is not None and i.link else None
        return vr is not None and vr.link in hits

    return match
