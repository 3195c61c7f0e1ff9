"""The v2 node tables: rows as served JSON bytes in rowid (insertion) order plus a sorted key
index, and how the node turns a DataLayer value into a row and a query into SQLite semantics.

Kept apart from the v1 store because v2 differs in exactly the places a mirror trips on:
snake_case DataLayer values, DECIMAL columns served as numbers (SQLite) or strings (MySQL),
DATEONLY fields, JSON-array text columns, ``created_at`` vs ``createdAt``, and lists whose
default order is not total (or is the rowid order of a table without ORDER BY).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple

from .schema_v2 import (
    DATEONLY,
    DECIMAL,
    INT,
    JSONARR,
    LEGACY_RENAMES,
    STR,
    TS,
    V2Table,
    camel,
    snake,
)
from .serialize import dumps, loads, norm_date
from .store import QueryError, SortedRows, like_regex

_DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}", re.ASCII)


class Rec(NamedTuple):
    """One stored row: served bytes plus the columns lists are filtered and ordered by."""

    data: bytes
    owner: str | None  # orgUid (project, unit, standalone) or createdByOrgUid
    created: str  # creation timestamp: the default order key of most tables
    link: str | None  # first foreign key of the table's org_path (the orgUid join)


# ---- DataLayer value -> node row ------------------------------------------------------------
def value_to_attributes(table: str, value: dict) -> dict:
    """What `sync-registries-v2.js` upserts: snake keys camelCased, legacy spellings renamed
    (``normalizeLegacyV2FieldNames``), the record's updated_at dropped."""
    rec = {camel(k): v for k, v in value.items()}
    for old, new in LEGACY_RENAMES.get(table, {}).items():
        if old in rec and new not in rec:
            rec[new] = rec.pop(old)
    rec.pop("updatedAt", None)
    return rec


def _decimal(v: Any, scale: int | None, flavour: str) -> Any:
    if isinstance(v, bool):
        v = int(v)
    try:
        d = Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v).strip())
    except InvalidOperation:
        return v  # NUMERIC affinity keeps text that is not a number
    if not d.is_finite():
        return v
    if flavour == "number":  # SQLite NUMERIC affinity: integral values become INTEGER
        return int(d) if d == d.to_integral_value() else float(d)
    if scale is not None:  # MySQL DECIMAL(p, s) comes back as a string with s digits
        return f"{d:.{scale}f}"
    return format(d.normalize(), "f")


def _text(v: Any) -> Any:
    """TEXT affinity: numbers and booleans are stored (and served) as their text."""
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, int | float):
        return str(v)
    if isinstance(v, dict | list):
        return dumps(v).decode()
    return v


def _integer(v: Any) -> Any:
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return v
        return int(f) if f.is_integer() else f
    if isinstance(v, float) and v.is_integer():
        return int(v)
    return v


def _json_array(v: Any) -> Any:
    """projectSector/projectType: the model setter stores a JSON array text, the getter parses
    it (a legacy plain string becomes a one-element array)."""
    if v is None:
        return None
    if isinstance(v, list):
        return v
    if isinstance(v, str):
        t = v.strip()
        if t.startswith("["):
            try:
                parsed = loads(t)
            except Exception:
                parsed = None
            if isinstance(parsed, list):
                return parsed
        return [v]
    return [v]


def coerce(spec: V2Table, col: str, typ: str, v: Any, flavour: str) -> Any:
    if v is None:
        return None
    if typ == STR:
        return _text(v)
    if typ == DATEONLY:  # Sequelize DATEONLY stores and serves YYYY-MM-DD
        return v[:10] if isinstance(v, str) and _DATE_RX.match(v) else v
    if typ == DECIMAL:
        return _decimal(v, spec.decimal_scale.get(col), flavour)
    if typ == INT:
        return _integer(v)
    if typ == JSONARR:
        return _json_array(v)
    return v


def make_row(spec: V2Table, pk: str, attrs: dict, created: str, updated: str, flavour: str
             ) -> dict:
    """Node row in served key order: unknown attributes dropped, missing ones null."""
    row: dict[str, Any] = {}
    for col, typ in spec.columns:
        if typ == TS:
            continue
        row[col] = coerce(spec, col, typ, attrs.get(col), flavour)
    row[spec.pk] = pk
    row[spec.created] = created
    row[spec.updated] = updated
    return row


# ---- the table ------------------------------------------------------------------------------
class V2Rows(SortedRows):
    """Rows of one v2 table in rowid (insertion) order: an upsert keeps its row's place, a
    re-insert after a delete goes last."""

    rows: dict[str, Rec]

    def __init__(self, spec: V2Table) -> None:
        super().__init__(spec)
        self.cache: dict[Any, tuple[int, int, list[str]]] = {}
        self._link = spec.org_path[0][0] if spec.org_path else None

    def put(self, row: dict) -> None:
        s = self.spec
        self._store(row[s.pk], Rec(dumps(row), row.get(s.owner), row[s.created],
                                   row.get(self._link) if self._link else None))


# ---- query semantics (SQLite via Sequelize) ---------------------------------------------------
def sql_key(v: Any) -> tuple:
    """SQLite's cross-type order: NULL < numbers < text."""
    if v is None:
        return (0, 0)
    if isinstance(v, bool):
        return (1, int(v))
    if isinstance(v, int | float | Decimal):
        return (1, v)
    return (2, v if isinstance(v, str) else dumps(v).decode())


def _numeric(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return v
    try:
        return float(Decimal(str(v).strip()))
    except (InvalidOperation, ValueError):
        return v


def stored(typ: str, v: Any) -> Any:
    """A served value as the node's database holds it (what WHERE and ORDER BY compare)."""
    if v is None:
        return None
    if typ in (DECIMAL, INT):
        return _numeric(v)
    if typ == JSONARR:
        return dumps(v).decode()
    return v


def literal(typ: str, v: Any) -> Any:
    """A filter value as Sequelize binds it for a column of this type."""
    if v is None:
        return None
    if typ in (DECIMAL, INT):
        return _numeric(v)
    if typ == TS and isinstance(v, str):
        return norm_date(v)
    if typ == DATEONLY and isinstance(v, str) and _DATE_RX.match(v):
        return v[:10]
    return _text(v)


#: Sequelize v6 ``Op`` names; the ones SQLite cannot run answer with its error
SEQUELIZE_OPS = frozenset((
    "eq", "ne", "gte", "gt", "lte", "lt", "not", "is", "in", "notIn", "like", "notLike",
    "iLike", "notILike", "startsWith", "endsWith", "substring", "regexp", "notRegexp",
    "iRegexp", "notIRegexp", "between", "notBetween", "overlap", "contains", "contained",
    "adjacent", "strictLeft", "strictRight", "noExtendRight", "noExtendLeft", "and", "or",
    "any", "all", "values", "col", "placeholder", "join", "match", "anyKeyword", "allKeyword"))


def _inspect(v: Any) -> str:
    """Node's util.inspect of a short value, for Sequelize's ``Invalid value`` message."""
    if isinstance(v, str):
        return "'" + v.replace("'", "\\'") + "'"
    if isinstance(v, list):
        return "[ " + ", ".join(_inspect(x) for x in v) + " ]" if v else "[]"
    return dumps(v).decode()


def predicate(spec: V2Table, model: str, col: str, op: str, value: Any
              ) -> Callable[[dict], bool]:
    """``where[col] = {[Op[op]]: value}`` on a served row; raises QueryError where the node
    answers 400 (unknown column, operator, or value shape)."""
    names = spec.names
    attr = col if col in names else next((n for n in names if snake(n) == col), None)
    if attr is None:
        raise QueryError(f"SQLITE_ERROR: no such column: {model}.{col}")
    typ = spec.type_of(attr) or STR
    if op not in SEQUELIZE_OPS:
        raise QueryError(f"Invalid value {{ undefined: {_inspect(value)} }}")

    def get(r: dict) -> Any:
        return stored(typ, r.get(attr))

    if op in ("in", "notIn"):
        vals = value if isinstance(value, list) else [value]
        want = {sql_key(literal(typ, x)) for x in vals if x is not None}
        if op == "in":
            return lambda r: (v := get(r)) is not None and sql_key(v) in want
        return lambda r: (v := get(r)) is not None and sql_key(v) not in want
    if op in ("like", "notLike", "startsWith", "endsWith", "substring"):
        if isinstance(value, list):
            raise QueryError(f"Invalid value {_inspect(value)}")
        pat = {"startsWith": "{}%", "endsWith": "%{}", "substring": "%{}%"}.get(op, "{}")
        rx = like_regex(pat.format(_text(value)))
        neg = op == "notLike"
        return lambda r: (v := get(r)) is not None and (rx.match(str(_text(v))) is None) == neg
    if op in ("between", "notBetween"):
        if not isinstance(value, list) or len(value) != 2:
            raise QueryError(f"Invalid value {_inspect(value)}")
        lo, hi = (sql_key(literal(typ, x)) for x in value)
        inside = op == "between"
        return lambda r: (v := get(r)) is not None and (lo <= sql_key(v) <= hi) == inside
    if op not in ("eq", "ne", "not", "gt", "gte", "lt", "lte"):
        raise QueryError(f'SQLITE_ERROR: near "{op.upper()}": syntax error')
    if isinstance(value, list):
        raise QueryError(f"Invalid value {_inspect(value)}")
    x = sql_key(literal(typ, value))
    if op == "not":  # IS NOT: NULL rows match
        return lambda r: (v := get(r)) is None or sql_key(v) != x
    cmp: Callable[[tuple, tuple], bool] = {
        "eq": tuple.__eq__, "ne": tuple.__ne__, "gt": tuple.__gt__, "gte": tuple.__ge__,
        "lt": tuple.__lt__, "lte": tuple.__le__}[op]
    return lambda r: (v := get(r)) is not None and cmp(sql_key(v), x)


def order_key(spec: V2Table, col: str) -> Callable[[dict], tuple]:
    typ = spec.type_of(col) or STR
    return lambda r: sql_key(stored(typ, r.get(col)))


_TOKEN_RX = re.compile(r"\w+", re.UNICODE)


def fts_tokens(text: str) -> list[str]:
    """FTS5 unicode61-like tokens (alphanumeric runs, case-folded)."""
    return [t.casefold() for t in _TOKEN_RX.findall(text)]


def fts_match(query: str, tokens: list[str]) -> bool:
    """An approximation of an FTS5 MATCH: every term present; a hyphenated query (the
    controller quotes it) must appear as a phrase."""
    q = query.strip().lstrip("+")
    terms = fts_tokens(q)
    if not terms:
        return False
    if "-" in q or (q.startswith('"') and q.endswith('"')):
        n = len(terms)
        return any(tokens[i:i + n] == terms for i in range(len(tokens) - n + 1))
    have = set(tokens)
    return all(t in have for t in terms)
