"""Seeded, per-route fault injection for CADT routes (never /_sim).

Transport faults (5xx, 429, latency, cut, truncate) and one data fault (malformed records in the
served copy only; the ledger is never touched).
"""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from typing import Any

import orjson

KINDS = ("5xx", "429", "latency", "cut", "truncate", "malformed")
HOSTILE = [
    "'; DROP TABLE units; --", "\u0000nul\u0000", "<script>alert(1)</script>",
    "💥" * 50, "A" * 10000, "\u202eRTL override",
]


@dataclass
class Rule:
    route: str
    kind: str
    rate: float = 1.0
    latency_ms: int = 0
    retry_after: int = 1
    status: int = 500

    def matches(self, path: str) -> bool:
        return self.route == "*" or path.startswith(self.route)


class Faults:
    """The active rule set and its RNG (one lock: requests may run concurrently)."""

    def __init__(self) -> None:
        self.rules: list[Rule] = []
        self.rng = random.Random(0)
        self._lock = threading.Lock()

    def set(self, rules: list[dict[str, Any]], seed: int = 0) -> None:
        parsed = []
        for r in rules:
            if r.get("kind") not in KINDS:
                raise ValueError(f"fault kind must be one of {KINDS}")
            parsed.append(Rule(
                route=str(r.get("route", "*")), kind=r["kind"], rate=float(r.get("rate", 1.0)),
                latency_ms=int(r.get("latency_ms", 0)), retry_after=int(r.get("retry_after", 1)),
                status=int(r.get("status", 500)),
            ))
        with self._lock:
            self.rules = parsed
            self.rng = random.Random(seed)

    def clear(self) -> None:
        self.set([], 0)

    def describe(self) -> list[dict]:
        return [r.__dict__.copy() for r in self.rules]

    def draw(self, path: str) -> tuple[int, Rule | None, random.Random | None]:
        """(added latency ms, the first firing non-latency rule or None, an RNG for it)."""
        latency, fired = 0, None
        with self._lock:
            for rule in self.rules:
                if not rule.matches(path):
                    continue
                if self.rng.random() >= rule.rate:
                    continue
                if rule.kind == "latency":
                    latency += rule.latency_ms
                elif fired is None:
                    fired = rule
            sub = random.Random(self.rng.getrandbits(64)) if fired else None
        return latency, fired, sub


def malform(body: bytes, rng: random.Random) -> bytes:
    """Corrupt some records of a served JSON page: wrong types, missing keys, hostile strings."""
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body
    data = doc.get("data") if isinstance(doc, dict) and "page" in doc else doc
    if isinstance(data, dict) and isinstance(doc, dict) and "page" not in doc:
        data = list(data.values())
    if not isinstance(data, list) or not data:
        return body
    n = max(1, len(data) // 10)
    for rec in rng.sample(data, min(n, len(data))):
        if not isinstance(rec, dict) or not rec:
            continue
        keys = list(rec)
        k = rng.choice(keys)
        how = rng.randrange(3)
        if how == 0:  # wrong type
            v = rec[k]
            rec[k] = (str(v) if isinstance(v, int | float) else 12345 if isinstance(v, str)
                      else {"unexpected": [1, 2]} if v is None else None)
        elif how == 1:  # missing key
            del rec[k]
        else:  # hostile string
            rec[k] = rng.choice(HOSTILE)
    return orjson.dumps(doc)
