"""How the node database turns DataLayer values into served rows (types, dates, ETags).

Kept in one place because every route, the truth export and the audit DELETE rows must agree
byte-for-byte on the served form.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any

import orjson

from .schema import DATE, INT, STR, TableSpec

loads = orjson.loads
_dumps = orjson.dumps


def dumps(obj: Any) -> bytes:
    """orjson bytes re-packed to their exact size: orjson's buffers keep ~4 KiB of slack, which
    at a million stored records is gigabytes."""
    return bytes(memoryview(_dumps(obj)))


def dumps_body(obj: Any) -> bytes:
    """Response bodies are short-lived: no need to re-pack."""
    return _dumps(obj)


def iso_ms(ms: int) -> str:
    """Epoch milliseconds -> Sequelize ISO string ``2024-01-01T00:00:00.000Z``."""
    s, r = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + f".{r:03d}Z"


def norm_date(v: Any) -> Any:
    """A DATE column as the node serves it: date-only and second-precision become ms ISO."""
    if not isinstance(v, str):
        return v
    n = len(v)
    if n == 24 and v[10] == "T":
        return v
    if n == 10 and v[4] == "-":
        return v + "T00:00:00.000Z"
    if n == 20 and v.endswith("Z"):
        return v[:19] + ".000Z"
    if n == 19 and v[10] in "T ":
        return v[:10] + "T" + v[11:] + ".000Z"
    return v


def sqlite_date(v: Any) -> Any:
    """ISO -> the SQLite text form that appears in DELETE audit rows."""
    if isinstance(v, str) and len(v) == 24 and v.endswith("Z") and v[10] == "T":
        return v[:10] + " " + v[11:23] + " +00:00"
    return v


def coerce(typ: str, v: Any) -> Any:
    """Apply the column type the way SQLite+Sequelize hands it back."""
    if v is None:
        return None
    if typ == STR:
        if isinstance(v, bool):
            return "1" if v else "0"
        if isinstance(v, int | float):
            return str(v)
        if isinstance(v, dict | list):
            return dumps(v).decode()
        return v
    if typ == DATE:
        return norm_date(v)
    if typ == INT and isinstance(v, str):
        try:
            return int(v)
        except ValueError:
            return v
    return v


def make_row(spec: TableSpec, value: dict, created: str, updated: str) -> dict:
    """DataLayer value -> node DB row (flat, served key order). Missing columns are null."""
    get = value.get
    row = {c: get(c) for c in spec.names}
    row["createdAt"] = created
    row["updatedAt"] = updated
    for col, typ in _typed(spec):
        v = row[col]
        if v is None:
            continue
        if typ == STR:
            if v.__class__ is not str:
                row[col] = coerce(STR, v)
        elif typ == DATE:
            if v.__class__ is not str or len(v) != 24:
                row[col] = coerce(DATE, v)
        elif v.__class__ is str:
            row[col] = coerce(typ, v)
    return row


_TYPED: dict[str, tuple[tuple[str, str], ...]] = {}


def _typed(spec: TableSpec) -> tuple[tuple[str, str], ...]:
    t = _TYPED.get(spec.name)
    if t is None:
        t = _TYPED[spec.name] = tuple(
            (c, ty) for c, ty in spec.columns if c not in ("createdAt", "updatedAt"))
    return t


def db_row_sqlite(row: dict, spec: TableSpec) -> dict:
    """The deleted DB row as the DELETE audit row's ``change`` shows it (SQLite dates)."""
    return {c: (sqlite_date(row[c]) if t == DATE else row[c]) for c, t in spec.columns}


def etag(body: bytes) -> str:
    """Express/`etag` weak validator: W/"<len hex>-<base64 sha1, 27 chars>"."""
    digest = base64.b64encode(hashlib.sha1(body).digest()).decode()[:27]
    return f'W/"{len(body):x}-{digest}"'
