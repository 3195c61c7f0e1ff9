"""A small Joi 17 look-alike for the query validators of the real server (express-joi-validation,
``convert: true``, ``allowUnknown: false``, ``abortEarly: false``), producing Joi's messages.

The messages are what the CADT error handler sends: ``detail.context.message`` when Joi set one
(an unmatched ``alternatives``: its branches' messages joined by ". "), else ``detail.message``
(``src/middleware.js`` @ 1.7.24). Checked against joi 17.13.3 run on the real schemas.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Query = dict[str, list[str]]

# Joi's number coercion only accepts this form (no "inf", "nan", "1_000", hex)
_NUMBER_RX = re.compile(r"^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?\s*$", re.IGNORECASE)


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
    pattern: str | None = None  # matched as written (anchored: stricter than the real regex)
    shown: str | None = None  # the real server's regex source, for the message
    min_len: int | None = None
    max_len: int | None = None
    max_items: int | None = None
    options: tuple[Field, ...] = ()  # alternatives().try(...)


def _num(v: str) -> float | None:
    if not _NUMBER_RX.match(v):
        return None
    f = float(v)
    return int(f) if f.is_integer() else f


def _check_number(f: Field, label: str, v: str) -> tuple[Any, list[Report]]:
    n = _num(v)
    if n is None:
        return None, [Report("number.base", f'"{label}" must be a number')]
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
    if f.pattern is not None and not re.match(f.pattern, v):
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
