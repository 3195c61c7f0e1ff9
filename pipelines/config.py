"""Checks for configuration values and CLI arguments, done before any work starts.

A bad value must fail at once with one sentence that names the setting, the value and what is
allowed, never later with a traceback from deep inside a sync (or, for the memory limit, after
being pasted into SQL).
"""

from __future__ import annotations

import os
import re

from pipelines.source.client import DEFAULT_API_URL, split_base_url

CONCURRENCY = (1, 16)
PAGE_SIZE = (1, 1000)  # the API's maximum
MIN_MEMORY_BYTES = 64 * 1000**2  # below this DuckDB cannot run a sync's merges
_UNITS = {"b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3, "tb": 1000**4,
          "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
          "k": 1000, "m": 1000**2, "g": 1000**3, "t": 1000**4}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*", re.IGNORECASE)
_PERCENT = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")


class SettingError(ValueError):
    """A setting or argument is not allowed (CLI exit code 2); the message says why."""


def _refuse(name: str, value: object, allowed: str) -> SettingError:
    return SettingError(f"{name}={value!r} is not allowed: {allowed}")


def whole_number(name: str, value: object, low: int, high: int | None = None) -> int:
    """`value` (text from the environment or the command line, or an int) as an int in range."""
    allowed = (f"use a whole number from {low} to {high}" if high is not None
               else f"use a whole number of at least {low}")
    if isinstance(value, bool):
        raise _refuse(name, value, allowed)
    if isinstance(value, int):
        n = value
    elif isinstance(value, str) and re.fullmatch(r"\s*[+-]?\d+\s*", value):
        n = int(value)
    else:
        raise _refuse(name, value, allowed)
    if n < low or (high is not None and n > high):
        raise _refuse(name, value, allowed)
    return n


def positive_number(name: str, value: object) -> float:
    """`value` as a float > 0 (e.g. hours)."""
    allowed = "use a number greater than 0"
    if isinstance(value, bool):
        raise _refuse(name, value, allowed)
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _refuse(name, value, allowed) from None
    if not x > 0 or x == float("inf"):
        raise _refuse(name, value, allowed)
    return x


def memory_limit(name: str, value: str) -> str:
    """A DuckDB memory size (`384MB`, `2GB`, `1.5GiB`) or a share of RAM (`50%`), normalised
    to a form that is safe to put into `SET memory_limit`."""
    allowed = ("use a DuckDB memory size such as 384MB, 2GB or 1.5GiB (at least 64MB), "
               "or a share of RAM such as 50%")
    size = _SIZE.fullmatch(value)
    if size and size.group(2).lower() in _UNITS:
        number, unit = size.group(1), size.group(2).lower()
        if float(number) * _UNITS[unit] < MIN_MEMORY_BYTES:
            raise _refuse(name, value, allowed)
        return f"{number}{unit.upper().replace('I', 'i')}"
    percent = _PERCENT.fullmatch(value)
    if percent and 0 < float(percent.group(1)) <= 100:
        return f"{percent.group(1)}%"
    raise _refuse(name, value, allowed)


def api_url(name: str, value: str) -> str:
    """An http(s) URL with a host (the node's path suffixes are optional)."""
    try:
        split_base_url(value)
    except ValueError:
        raise _refuse(name, value, f"use the http(s) URL of a CADT node, such as "
                      f"{DEFAULT_API_URL}") from None
    return value


KEEP_SNAPSHOTS = 3  # dated serving snapshots kept by default (CADT_MIRROR_KEEP_SNAPSHOTS)


def keep_snapshots(value: str | None = None) -> int:
    """How many dated serving snapshots to keep: `value`, else $CADT_MIRROR_KEEP_SNAPSHOTS,
    else 3; a whole number of at least 1 (the snapshot being published is always kept)."""
    raw = value if value is not None else os.environ.get("CADT_MIRROR_KEEP_SNAPSHOTS")
    return whole_number("CADT_MIRROR_KEEP_SNAPSHOTS", raw or KEEP_SNAPSHOTS, 1)
