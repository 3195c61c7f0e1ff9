"""A small Joi look-alike for the query validators of the real server (express-joi-validation,
``convert: true``, ``allowUnknown: false``, ``abortEarly: false``), producing Joi's messages."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

Query = dict[str, list[str]]


@dataclass(frozen=True)
class Field:
    name: str
    kind: str = "string"  # string | number | boolean | array
    min: float | None = None
    max: float | None = None
    valid: tuple[str, ...] | None = None
    items_valid: tuple[str, ...] | None = None
    pattern: str | None = None
    max_items: int | None = None


def _num(v: str) -> float | None:
    try:
        f = float(v)
    except ValueError:
        return None
    return int(f) if f.is_integer() else f


def validate(q: Query, fields: list[Field], required: set[str],
             and_peers: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """Validate a parsed query string; returns (converted values, Joi error messages)."""
    out: dict[str, Any] = {}
    errors: list[str] = []
    known = {f.name for f in fields}
    for f in fields:
        if f.name not in q:
            if f.name in required:
                errors.append(f'"{f.name}" is required')
            continue
        vals = q[f.name]
        if f.kind == "array":
            for i, v in enumerate(vals):
                if f.items_valid is not None and v not in f.items_valid:
                    label = f.name if len(vals) == 1 else f"{f.name}[{i}]"
                    errors.append(f'"{label}" must be one of [{", ".join(f.items_valid)}]')
            if f.max_items is not None and len(vals) > f.max_items:
                errors.append(f'"{f.name}" must contain less than or equal to {f.max_items} items')
            out[f.name] = vals
            continue
        if len(vals) > 1:
            errors.append(f'"{f.name}" must be a {f.kind}')
            continue
        v = vals[0]
        if f.kind == "number":
            n = _num(v)
            if n is None:
                errors.append(f'"{f.name}" must be a number')
                continue
            if f.min is not None and n < f.min:
                errors.append(f'"{f.name}" must be greater than or equal to {f.min:g}')
            elif f.max is not None and n > f.max:
                errors.append(f'"{f.name}" must be less than or equal to {f.max:g}')
            out[f.name] = n
        elif f.kind == "boolean":
            if v.lower() not in ("true", "false"):
                errors.append(f'"{f.name}" must be a boolean')
                continue
            out[f.name] = v.lower() == "true"
        else:
            if v == "":
                errors.append(f'"{f.name}" is not allowed to be empty')
                continue
            if f.valid is not None and v not in f.valid:
                if f.pattern is None or not re.match(f.pattern, v):
                    errors.append(f'"{f.name}" must be one of [{", ".join(f.valid)}]')
                    continue
            elif f.pattern is not None and not re.match(f.pattern, v):
                errors.append(f'"{f.name}" with value "{v}" fails to match the required '
                              f"pattern: /{f.pattern}/")
                continue
            out[f.name] = v
    for k in q:
        if k not in known:
            errors.append(f'"{k}" is not allowed')
    if and_peers and not errors:
        present = [p for p in and_peers if p in q]
        missing = [p for p in and_peers if p not in q]
        if present and missing:
            errors.append(f'"value" contains [{", ".join(present)}] without its required '
                          f'peers [{", ".join(missing)}]')
    return out, errors
