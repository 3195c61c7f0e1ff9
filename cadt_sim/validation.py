"""A small Joi 17 look-alike for the query validators of the real server (express-joi-validation,
``convert: true``, ``allowUnknown: false``, ``abortEarly: false``), producing Joi's messages.

The messages are what the CADT error handler sends: ``detail.context.message`` when Joi set one
(an unmatched ``alternatives``: its branches' messages joined by ". "), else ``detail.message``
(``src/middleware.js`` @ 1.7.24). Checked against joi 17.13.3 run on the real schemas.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass
from typing import Any

Query = dict[str, list[str]]

#: JavaScript's ``\s`` and what ``String.prototype.trim`` strips (WhiteSpace + LineTerminator)
JS_SPACE_CHARS = "".join(
    chr(c) for c in [9, 10, 11, 12, 13, 32, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029,
                     0x202F, 0x205F, 0x3000, 0xFEFF])
#: JavaScript's ``.`` (no ``s`` flag): anything but a line terminator (Python's ``.`` is ``[^\n]``)
JS_DOT = "[^\n\r\u2028\u2029]"
# Joi's number coercion only accepts this form (no "inf", "nan", "1_000", hex, non-ASCII digits):
# numberRx of lib/types/number.js with JS's \s and \d
_NUMBER_RX = re.compile(rf"[{JS_SPACE_CHARS}]*[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
                        rf"(?:[eE][+-]?[0-9]+)?[{JS_SPACE_CHARS}]*\Z")
MAX_SAFE_INTEGER = 2**53 - 1


@functools.lru_cache(maxsize=64)
def js_regex(pattern: str) -> re.Pattern[str]:
    """A JavaScript regex (no flags) written with ``\\w``, ``\\d``, ``.``, ``^`` and ``$`` as a Python
    one with the same meaning: ASCII classes, ``.`` without line terminators, ``$`` only at the
    very end (Python's ``$`` also matches before a final newline)."""
    out, i = [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if ch == "[":  # a class is copied as is (no `.` or `$` meaning inside)
            j = pattern.index("]", i + 2 if pattern[i + 1:i + 2] == "]" else i + 1)
            out.append(pattern[i:j + 1])
            i = j + 1
            continue
        out.append(JS_DOT if ch == "." else "\\Z" if ch == "$" else ch)
        i += 1
    return re.compile("".join(out), re.ASCII)


@dataclass(frozen=True)
class Report:
    """One Joi error report: its code (for the alternatives reduction) and its message."""

    code: str
    message: str
    valids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "string"  # string | number | boolean | array | alternatives
    min: float | None = None
    max: float | None = None
    integer: bool = False
    valid: tuple[str, ...] | None = None
    items_valid: tuple[str, ...] | None = None
    pattern: str | None = None  # a JS regex, matched in JS semantics (js_regex); anchored here:
    # stricter than the real, unanchored one
    shown: str | None = None  # the real server's regex source, for the message
    min_len: int | None = None
    max_len: int | None = None
    max_items: int | None = None
    options: tuple[Field, ...] = ()  # alternatives().try(...)


def js_number_str(x: float) -> str:
    """``String(x)`` of a JavaScript number (ECMAScript Number::toString: the shortest
    round-trip digits, as Python's repr, in JS's notation: ``1e+21``, ``1e-7``, ``123.4``)."""
    if x != x:
        return "NaN"
    if x in (math.inf, -math.inf):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign, r = ("-" if x < 0 else ""), repr(abs(float(x)))
    mant, _, exp = r.partition("e")
    ip, _, fp = mant.partition(".")
    raw = ip + fp
    digits = raw.lstrip("0")
    e10 = int(exp or 0) - len(fp) + (len(digits) - len(digits.rstrip("0")))
    s = digits.rstrip("0")
    k, n = len(s), len(s) + e10  # x = 0.s * 10^n
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * -n + s
    else:
        e = n - 1
        out = (s if k == 1 else s[0] + "." + s[1:]) + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def _significant(v: str) -> str:
    """internals.extractSignificantDigits of lib/types/number.js."""
    v = re.sub(r"[eE][+-]?[0-9]+\Z", "", v, count=1)
    v = v.replace(".", "", 1)
    v = re.sub(r"0+\Z", "", v, count=1)
    return re.sub(r"^[+-]?(0*)?", "", v, count=1)


def _normalize_decimal(v: str) -> str:
    """internals.normalizeDecimal of lib/types/number.js."""
    v = re.sub(r"^\+", "", v, count=1)
    v = re.sub(r"\.0*\Z", "", v, count=1)
    v = re.sub(r"^(-?)\.([^.]*)\Z", r"\g<1>0.\2", v, count=1)
    v = re.sub(r"^(-?)0+([0-9])", r"\1\2", v, count=1)
    if "." in v and v.endswith("0"):
        v = re.sub(r"0+\Z", "", v, count=1)
    return "0" if v == "-0" else v


def _num(v: str) -> tuple[float | int | None, bool]:
    """Joi's number coercion of a query string: (value or None = not a number, unsafe).

    ``number.unsafe`` (lib/types/number.js, the default flags): the digits the string gives do
    not survive as a double (``9007199254740993``, ``1e400``, ``1e-400``), or the value is beyond
    ±(2^53 - 1) (``1e20``)."""
    if not _NUMBER_RX.match(v):
        return None, False
    t = v.strip(JS_SPACE_CHARS)
    f = float(t) + 0.0  # parseFloat; -0 becomes 0
    if "e" in t or "E" in t:
        if _significant(t) != _significant(js_number_str(f)):
            return f, True
    else:
        shown = js_number_str(f)
        if "e" not in shown and shown != _normalize_decimal(t):
            return f, True
    if not -MAX_SAFE_INTEGER <= f <= MAX_SAFE_INTEGER:
        return f, True
    return (int(f) if f.is_integer() else f), False


def _check_number(f: Field, label: str, v: str) -> tuple[Any, list[Report]]:
    """Coercion, the base check (both abort: no rule runs after them), then the rules."""
    n, unsafe = _num(v)
    if n is None:
        return None, [Report("number.base", f'"{label}" must be a number')]
    if unsafe:  # Joi's default message, also where a schema has custom ones
        return None, [Report("number.unsafe", f'"{label}" must be a safe number')]
    out = []
    if f.integer and not isinstance(n, int):
        out.append(Report("number.integer", f'"{label}" must be an integer'))
    if f.min is not None and n < f.min:
        out.append(Report("number.min", f'"{label}" must be greater than or equal to {f.min:g}'))
    if f.max is not None and n > f.max:
        out.append(Report("number.max", f'"{label}" must be less than or equal to {f.max:g}'))
    return n, out


def _check_string(f: Field, label: str, v: str) -> tuple[Any, list[Report]]:
    """Joi string: valid() is checked first, then the type, then the rules in declared order."""
    out: list[Report] = []
    if f.valid is not None:
        if v in f.valid:
            return v, []
        out.append(Report("any.only", f'"{label}" must be one of [{", ".join(f.valid)}]',
                          f.valid))
    if v == "":
        return None, [*out, Report("string.empty", f'"{label}" is not allowed to be empty')]
    if f.pattern is not None and not js_regex(f.pattern).match(v):
        out.append(Report("string.pattern.base", f'"{label}" with value "{v}" fails to match the '
                          f"required pattern: /{f.shown or f.pattern}/"))
    if f.min_len is not None and len(v) < f.min_len:
        out.append(Report("string.min", f'"{label}" length must be at least {f.min_len} '
                          "characters long"))
    if f.max_len is not None and len(v) > f.max_len:
        out.append(Report("string.max", f'"{label}" length must be less than or equal to '
                          f"{f.max_len} characters long"))
    return v, out


def _check_array(f: Field, vals: list[str]) -> tuple[Any, list[Report]]:
    """Joi array().items(string()).single(): a lone value is labelled without an index."""
    out = []
    for i, v in enumerate(vals):
        label = f.name if len(vals) == 1 else f"{f.name}[{i}]"
        if f.items_valid is not None and v not in f.items_valid:
            out.append(Report("any.only",
                              f'"{label}" must be one of [{", ".join(f.items_valid)}]'))
        if v == "":
            out.append(Report("string.empty", f'"{label}" is not allowed to be empty'))
    if f.max_items is not None and len(vals) > f.max_items:
        out.append(Report("array.max",
                          f'"{f.name}" must contain less than or equal to {f.max_items} items'))
    return vals, out


def _check_one(f: Field, vals: list[str]) -> tuple[Any, list[Report]]:
    if f.kind == "array":
        return _check_array(f, vals)
    if f.kind == "alternatives":
        return _check_alternatives(f, vals)
    if len(vals) > 1:  # a repeated key arrives as an array
        pre = ([Report("any.only", f'"{f.name}" must be one of [{", ".join(f.valid)}]',
                       f.valid)] if f.valid is not None else [])
        return None, [*pre, Report(f"{f.kind}.base", f'"{f.name}" must be a {f.kind}')]
    v = vals[0]
    if f.kind == "number":
        return _check_number(f, f.name, v)
    if f.kind == "boolean":
        if v.lower() not in ("true", "false"):
            return None, [Report("boolean.base", f'"{f.name}" must be a boolean')]
        return v.lower() == "true", []
    return _check_string(f, f.name, v)


def _check_alternatives(f: Field, vals: list[str]) -> tuple[Any, list[Report]]:
    """Joi 17 ``alternatives().try()`` error reduction (lib/types/alternatives.js)."""
    failures = []
    for option in f.options:
        value, reports = _check_one(option, vals)
        if not reports:
            return value, []
        failures.append(reports)
    if len(failures) == 1:
        return None, failures[0]
    valids: list[str] = []
    complex_: list[Report] = []
    for reports in failures:
        if len(reports) > 1:
            return None, [_unmatched(failures)]
        r = reports[0]
        if r.code == "any.only":
            valids.extend(r.valids)
        elif r.code.split(".")[1] != "base":
            complex_.append(r)
        else:
            valids.append(r.code.split(".")[0])
    if not complex_:
        return None, [Report("alternatives.types", f'"{f.name}" must be one of '
                             f'[{", ".join(dict.fromkeys(valids))}]')]
    if len(complex_) == 1:
        return None, complex_
    return None, [_unmatched(failures)]


def _unmatched(failures: list[list[Report]]) -> Report:
    """alternatives.match: the handler shows context.message, every branch's messages joined."""
    messages = dict.fromkeys(r.message for reports in failures for r in reports)
    return Report("alternatives.match", ". ".join(messages))


def validate(q: Query, fields: list[Field], required: set[str],
             and_peers: tuple[str, ...] = (),
             with_peers: tuple[tuple[str, str], ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """Validate a parsed query string; returns (converted values, Joi error messages).

    Order as Joi reports them: the schema's keys, then unknown keys, then the dependencies.
    """
    out: dict[str, Any] = {}
    errors: list[str] = []
    for f in fields:
        if f.name not in q:
            if f.name in required:
                errors.append(f'"{f.name}" is required')
            continue
        value, reports = _check_one(f, q[f.name])
        errors.extend(r.message for r in reports)
        if not reports:
            out[f.name] = value
    known = {f.name for f in fields}
    errors.extend(f'"{k}" is not allowed' for k in q if k not in known)
    present = [p for p in and_peers if p in q]
    missing = [p for p in and_peers if p not in q]
    if present and missing:
        errors.append(f'"value" contains [{", ".join(present)}] without its required '
                      f'peers [{", ".join(missing)}]')
    for main, peer in with_peers:
        if main in q and peer not in q:
            errors.append(f'"{main}" missing required peer "{peer}"')
    return out, errors
