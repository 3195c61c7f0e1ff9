"""The node database: per-table rows as pre-serialized JSON plus the few in-memory indexes the
read API needs (org, timeStaged, parent links, sorted primary keys).

Rows are stored as the exact bytes the API serves, so a 1000-record page is a join of byte
strings; anything not indexed (generic filters, ``columns=``) decodes only the rows it touches.
:class:`SortedRows` (rows by key plus the sorted key index) is also the base of the v2 tables.
"""

from __future__ import annotations

import contextlib
import re
import zlib
from bisect import bisect_left, bisect_right, insort
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from .schema import DATE, INT, PROJECT_CHILDREN, PROJECTS, TABLES, UNITS, TableSpec
from .serialize import dumps, loads, norm_date
from .validation import js_regex


class Rec(NamedTuple):
    """One stored row: its served bytes and the indexed columns."""

    data: bytes
    owner: str  # orgUid ("" when null)
    ts: str | None  # timeStaged (default order key)
    link: str | None  # parent column (children, label_unit) or issuanceId (units)
    extra: str | None  # label_unit.labelId


class QueryError(Exception):
    """A query the real server answers with a 400 controller error."""


class Filter(NamedTuple):
    col: str
    value: Any
    op: str


#: the controllers' ``filter.match(genericFilterRegex)`` (src/utils/string-utils.js @ 1.7.24:
#: unanchored, JS semantics). Searched, not anchored: ``x:5:lte`` gives the operator ``lt`` (the
#: alternation tries ``lt`` first and nothing follows it), ``x:5:gte`` gives ``gt`` — as on a real
#: node (checked with node 20)
FILTER_RE = js_regex(r"(\w+):(.+):(in|eq|not|lt|gt|lte|gte|like)")
#: ``^(\w+):(ASC|DESC)$`` in JS semantics (ASCII ``\w``, no match before a final newline)
ORDER_RE = js_regex(r"^(\w+):(ASC|DESC)$")


def tie_key(salt: int) -> Callable[[str], int]:
    """The rank of a key among rows with the same sort value: pseudo-random, different after
    every commit (``salt``) and the same in every process (``hash()`` of a str depends on
    PYTHONHASHSEED): crc32 of the key, mixed with the salt and an odd multiplier."""
    k, crc = (salt * 0x9E3779B1) & 0xFFFFFFFF, zlib.crc32
    return lambda pk: ((crc(pk.encode()) ^ k) * 0x85EBCA6B) & 0xFFFFFFFF


def like_regex(pattern: str) -> re.Pattern[str]:
    """A SQL LIKE pattern (``%``, ``_``; case-insensitive as in SQLite) as an anchored regex."""
    rx = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern)
    return re.compile("^" + rx + "$", re.IGNORECASE | re.DOTALL)


def key_bounds(keys: list[str], op: str, value: str) -> tuple[int, int]:
    """The slice of sorted ``keys`` where ``key <op> value`` (gt, gte, lt, lte)."""
    lo, hi = 0, len(keys)
    if op == "gt":
        lo = bisect_right(keys, value)
    elif op == "gte":
        lo = bisect_left(keys, value)
    elif op == "lt":
        hi = bisect_left(keys, value)
    else:
        hi = bisect_right(keys, value)
    return lo, hi


def remove_sorted(lst: list[str], pk: str) -> None:
    i = bisect_left(lst, pk)
    if i < len(lst) and lst[i] == pk:
        del lst[i]


def parse_filter(raw: str) -> Filter:
    m = FILTER_RE.search(raw)
    if not m:
        raise QueryError("bad filter")
    col, val, op = m.groups()
    value: Any = val
    if val.startswith("[") and val.endswith("]"):
        try:
            value = loads(val)
        except Exception:
            value = val
    return Filter(col, value, op)


class SortedRows:
    """Rows of one table by primary key (records with the served bytes ``data`` and the
    ``owner`` column) and a sorted key index, of all rows and per owner, kept up to date by
    upserts and deletes; ``begin_bulk`` drops it while loading, the next read rebuilds it.
    Mutated under the ledger lock."""

    def __init__(self, spec: Any) -> None:
        self.spec = spec
        self.rows: dict[str, Any] = {}
        self.version = 0
        self._sorted: list[str] | None = []
        self._by_owner: dict[Any, list[str]] | None = {}

    def begin_bulk(self) -> None:
        self._sorted = self._by_owner = None

    def _store(self, pk: str, rec: Any) -> Any:
        """Insert or replace a record; returns the one it replaced (or None)."""
        old = self.rows.get(pk)
        self.rows[pk] = rec
        self.version += 1
        by_owner = self._by_owner
        if old is None:
            if self._sorted is not None:
                insort(self._sorted, pk)
            if by_owner is not None:
                insort(by_owner.setdefault(rec.owner, []), pk)
        elif old.owner != rec.owner and by_owner is not None:
            remove_sorted(by_owner.get(old.owner, []), pk)
            insort(by_owner.setdefault(rec.owner, []), pk)
        return old

    def _unindex(self, pk: str, old: Any) -> None:
        if self._sorted is not None:
            remove_sorted(self._sorted, pk)
        if self._by_owner is not None:
            remove_sorted(self._by_owner.get(old.owner, []), pk)

    def delete(self, pk: str) -> dict | None:
        """Remove a row; returns the deleted row (decoded) or None if absent."""
        old = self.rows.pop(pk, None)
        if old is None:
            return None
        self.version += 1
        self._unindex(pk, old)
        return loads(old.data)

    def get(self, pk: str) -> dict | None:
        r = self.rows.get(pk)
        return loads(r.data) if r is not None else None

    def build_index(self, owners: bool = True) -> None:
        """Rebuild what ``begin_bulk`` dropped: the sorted keys (and the per-owner lists)."""
        if self._sorted is None:
            self._sorted = sorted(self.rows)
        if owners and self._by_owner is None:
            idx: dict[Any, list[str]] = {}
            rows = self.rows
            for pk in self._sorted:
                idx.setdefault(rows[pk].owner, []).append(pk)
            self._by_owner = idx

    def sorted_keys(self, owner: Any = None) -> list[str]:
        """The keys in order: all (owner None) or those of one owner."""
        self.build_index(owners=owner is not None)
        if owner is None:
            return self._sorted  # type: ignore[return-value]
        return self._by_owner.get(owner, [])  # type: ignore[union-attr]

    def key_range(self, owner: Any, op: str, value: str) -> list[str]:
        """Keys (sorted) of ``pk <op> value``: the keyset crawl's fast path."""
        base = self.sorted_keys(owner)
        lo, hi = key_bounds(base, op, value)
        return base[lo:hi]


class Table(SortedRows):
    """A v1 table: rows plus the parent-link index the nested read shapes join through."""

    rows: dict[str, Rec]

    def __init__(self, spec: TableSpec) -> None:
        super().__init__(spec)
        self.by_parent: dict[str, list[str]] = {}
        self._default_cache: dict[str | None, tuple[int, list[str]]] = {}

    # ---- mutation -------------------------------------------------------------------------
    def _link_of(self, row: dict) -> str | None:
        s = self.spec
        if s.parent:
            return row.get(s.parent)
        if s.index:
            return row.get(s.index[0])
        return None

    def put(self, row: dict) -> None:
        """Insert or replace a row (the caller already fixed createdAt/updatedAt)."""
        s = self.spec
        pk = row[s.pk]
        org = row.get("orgUid") or ""
        link = self._link_of(row)
        extra = row.get("labelId") if s.name == "label_unit" else None
        old = self._store(pk, Rec(dumps(row), org, row.get("timeStaged"), link, extra))
        if s.parent and (old is None or old.link != link):
            if old is not None and old.link is not None:
                self._unparent(old.link, pk)
            if link is not None:
                self.by_parent.setdefault(link, []).append(pk)

    def _unparent(self, link: str, pk: str) -> None:
        lst = self.by_parent.get(link)
        if lst is not None:
            with contextlib.suppress(ValueError):
                lst.remove(pk)
            if not lst:
                del self.by_parent[link]

    def _unindex(self, pk: str, old: Rec) -> None:
        if self.spec.parent and old.link is not None:
            self._unparent(old.link, pk)
        super()._unindex(pk, old)

    def drop_org(self, org: str) -> int:
        pks = list(self.sorted_keys(org))
        for pk in pks:
            self.delete(pk)
        if self._by_owner is not None:
            self._by_owner.pop(org, None)
        return len(pks)

    # ---- querying -------------------------------------------------------------------------
    def default_order(self, org: str | None, salt: int) -> list[str]:
        """``timeStaged DESC`` with ties in an order that is reshuffled on every commit."""
        hit = self._default_cache.get(org)
        if hit and hit[0] == salt:
            return hit[1]
        rows, tie = self.rows, tie_key(salt)
        pks = sorted(self.sorted_keys(org), key=lambda pk: (rows[pk].ts or "", tie(pk)),
                     reverse=True)
        self._default_cache[org] = (salt, pks)
        return pks

    def value(self, pk: str, col: str, cache: dict | None = None) -> Any:
        rec = self.rows[pk]
        if col == self.spec.pk:
            return pk
        if col == "orgUid":
            return rec.owner or None
        if col == "timeStaged":
            return rec.ts
        row = loads(rec.data)
        return row.get(col)

    def select(
        self,
        *,
        org: str | None = None,
        flt: Filter | None = None,
        order: tuple[str, str] | None = None,
        salt: int = 0,
        preds: Iterable[Callable[[dict], bool]] = (),
        search: str | None = None,
        ids: list[str] | None = None,
        offset: float = 0,
        limit: float | None = None,
    ) -> tuple[int, list[str]]:
        """Matching primary keys: (count, page). Fast paths for the primary key.

        ``offset``/``limit`` are the controller's JS numbers: a fraction in ``LIMIT <offset>,
        <limit>`` passes SQLite's prepare (a missing column does not) and then fails to run."""
        s = self.spec
        preds = list(preds)
        if flt is not None and flt.col not in s.names:
            raise QueryError(f"SQLITE_ERROR: no such column: {s.name}.{flt.col}")
        if order is not None and order[0] not in s.names:
            raise QueryError(f"SQLITE_ERROR: no such column: {s.name}.{order[0]}")
        if offset != int(offset) or (limit is not None and limit != int(limit)):
            raise QueryError("SQLITE_MISMATCH: datatype mismatch")
        offset, limit = int(offset), (None if limit is None else int(limit))
        pk_order = order is not None and order[0] == s.pk
        cand: list[str] | None = None
        rows = self.rows
        lo_hi: tuple[int, int] | None = None
        if ids is not None:
            cand = sorted({i for i in ids if i in rows})
        if flt is not None and flt.col == s.pk and flt.op in ("in", "eq"):
            vals = flt.value if isinstance(flt.value, list) else [flt.value]
            want = {str(v) for v in vals}
            cand = sorted(v for v in want if v in rows) if cand is None else [
                c for c in cand if c in want]
            flt = None
        elif flt is not None and flt.col == s.pk and flt.op in ("gt", "gte", "lt", "lte") \
                and cand is None:
            base = self.sorted_keys(org)
            cand, lo_hi, flt = base, key_bounds(base, flt.op, str(flt.value)), None
        if cand is not None and org is not None and lo_hi is None:
            cand = [c for c in cand if rows[c].owner == org]
        if flt is not None:
            preds.append(self._predicate(flt))
        if search:
            terms = [t.lower().encode() for t in search.split() if t]

            def _search(pk: str, _t: list[bytes] = terms) -> bool:
                d = rows[pk].data.lower()
                return all(t in d for t in _t)
        else:
            _search = None  # type: ignore[assignment]

        # fast path: a plain range of the sorted primary key index
        if lo_hi is not None and not preds and _search is None and pk_order:
            lo, hi = lo_hi
            count = max(0, hi - lo)
            if order is not None and order[1] == "DESC":
                end = hi - offset
                start = end - (limit if limit is not None else count)
                page = cand[max(lo, start):max(lo, end)][::-1]
            else:
                start = lo + offset
                page = cand[start:hi if limit is None else min(hi, start + limit)]
            return count, page
        from_default = False
        if cand is None:
            if order is None:
                cand, from_default = self.default_order(org, salt), True
            else:
                cand = self.sorted_keys(org)
        elif lo_hi is not None:
            cand = cand[lo_hi[0]:lo_hi[1]]
        if preds or _search is not None:
            out = []
            for pk in cand:
                if _search is not None and not _search(pk):
                    continue
                if preds:
                    row = loads(rows[pk].data)
                    if not all(p(row) for p in preds):
                        continue
                out.append(pk)
            cand = out
        if order is not None:
            col, direction = order
            if col == s.pk:
                cand = sorted(cand, reverse=direction == "DESC") if not self._is_sorted(cand) \
                    else (cand[::-1] if direction == "DESC" else cand)
            else:
                keyf = self._sort_key(col)
                cand = sorted(cand, key=keyf, reverse=direction == "DESC")
        elif not from_default:
            tie = tie_key(salt)
            cand = sorted(cand, key=lambda pk: (rows[pk].ts or "", tie(pk)), reverse=True)
        count = len(cand)
        page = cand[offset:] if limit is None else cand[offset:offset + limit]
        return count, page

    @staticmethod
    def _is_sorted(lst: list[str]) -> bool:
        return all(lst[i] <= lst[i + 1] for i in range(len(lst) - 1))

    def _sort_key(self, col: str) -> Callable[[str], Any]:
        rows = self.rows
        if col == "timeStaged":
            return lambda pk: (0, "") if rows[pk].ts is None else (2, rows[pk].ts)
        if col == "orgUid":
            return lambda pk: (2, rows[pk].owner)

        def key(pk: str) -> Any:
            v = loads(rows[pk].data).get(col)
            if v is None:
                return (0, 0)
            return (1, v) if isinstance(v, int | float) else (2, v)

        return key

    def _predicate(self, f: Filter) -> Callable[[dict], bool]:
        typ = self.spec.type_of(f.col)

        def conv(x: Any) -> Any:
            if x is None:
                return None
            if typ == INT:
                try:
                    return int(x) if not isinstance(x, float) else x
                except (TypeError, ValueError):
                    return x
            if typ == DATE:
                return norm_date(str(x))
            return x if isinstance(x, str) else str(x)

        col, op = f.col, f.op
        if op == "in":
            vals = f.value if isinstance(f.value, list) else [f.value]
            want = {conv(v) for v in vals}
            return lambda r: r.get(col) is not None and r.get(col) in want
        if op == "like":
            rx = like_regex(str(f.value))
            return lambda r: r.get(col) is not None and rx.match(str(r.get(col))) is not None
        x = conv(f.value)
        if op == "eq":
            return lambda r: r.get(col) is not None and r.get(col) == x
        if op == "not":
            return lambda r: r.get(col) != x

        def cmp(r: dict) -> bool:
            v = r.get(col)
            if v is None:
                return False
            try:
                if op == "gt":
                    return v > x
                if op == "gte":
                    return v >= x
                if op == "lt":
                    return v < x
                return v <= x
            except TypeError:
                # SQLite: numbers sort before text
                a, b = isinstance(v, str), isinstance(x, str)
                return {"gt": a > b, "gte": a >= b, "lt": a < b, "lte": a <= b}[op]

        return cmp


class NodeDB:
    """All v1 tables of the observer node; joins for the nested read API shapes."""

    def __init__(self, specs: Iterable[TableSpec] = TABLES) -> None:
        self.tables: dict[str, Table] = {s.name: Table(s) for s in specs}
        self.epoch = 0  # bumped per commit: salts the tie order of the default sort

    def __getitem__(self, name: str) -> Table:
        return self.tables[name]

    def project_bytes(self, pk: str) -> bytes:
        rec = self.tables[PROJECTS.name].rows[pk]
        parts = [rec.data[:-1]]
        for spec in PROJECT_CHILDREN:
            t = self.tables[spec.name]
            kids = t.by_parent.get(pk, ())
            parts.append(b',"' + spec.nest_as.encode() + b'":[')
            parts.append(b",".join(t.rows[k].data for k in kids))
            parts.append(b"]")
        parts.append(b"}")
        return b"".join(parts)

    def unit_bytes(self, pk: str, with_labels: bool = True, with_issuance: bool = True) -> bytes:
        rec = self.tables[UNITS.name].rows[pk]
        parts = [rec.data[:-1]]
        if with_labels:
            lu_t = self.tables["label_unit"]
            lab_rows = self.tables["labels"].rows
            items = []
            for luid in lu_t.by_parent.get(pk, ()):
                lu = lu_t.rows[luid]
                lab = lab_rows.get(lu.extra) if lu.extra else None
                if lab is not None:
                    items.append(lab.data[:-1] + b',"label_unit":' + lu.data + b"}")
            parts.append(b',"labels":[' + b",".join(items) + b"]")
        if with_issuance:
            iss = self.tables["issuances"].rows.get(rec.link) if rec.link else None
            parts.append(b',"issuance":' + (iss.data if iss is not None else b"null"))
        parts.append(b"}")
        return b"".join(parts)
