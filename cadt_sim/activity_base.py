"""What v1 and v2 activity share: random live records of an org's store, commits with a random
author, retire/cancel as status changes, and unit splits (``POST /v1/units/split``,
``UnitV2.split``): record 0 keeps the id, the others are copies; Σ unitCount preserved."""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

from .datalayer import DataLayer, Op
from .ledger import Ledger


class UnitKeys(NamedTuple):
    """A model's unit value keys that a split rewrites."""

    start: str
    end: str
    serial: str
    count: str
    created: str
    updated: str


class ActivityBase:
    """Commits activity on one model's stores (``store``: the v1 or the v2 ledger)."""

    authors: Sequence[str] = ()

    def __init__(self, ledger: Ledger, store: DataLayer, rng: random.Random) -> None:
        self.ledger = ledger  # clock and lock
        self.store = store
        self.rng = rng

    def _clock(self) -> int:
        return self.ledger.clock_s + 1

    def _pick(self, org: Any, prefix: str, ids: list[str], n: int,
              pred: Callable[[dict], bool] | None = None) -> list[tuple[str, dict]]:
        """n distinct live records of the org (values decoded from its store)."""
        out: list[tuple[str, dict]] = []
        seen: set[str] = set()
        tries = 0
        while ids and len(out) < n and tries < n * 30 + 50:
            tries += 1
            rid = ids[self.rng.randrange(len(ids))]
            if rid in seen:
                continue
            v = self.store.value(org, prefix, rid)
            if v is None or (pred is not None and not pred(v)):
                continue
            seen.add(rid)
            out.append((rid, v))
        return out

    def commit(self, org: Any, ops: list[Op], comment: str, advance_s: int | None = None
               ) -> dict[str, Any]:
        return self.store.commit(org, ops, comment=comment, author=self.rng.choice(self.authors),
                                 advance_s=advance_s)

    # ---- units ------------------------------------------------------------------------------
    def _set_status(self, org: Any, n: int, status: str) -> list[Op]:
        raise NotImplementedError

    def _retire(self, org: Any, n: int) -> list[Op]:
        return self._set_status(org, n, "Retired")

    def _cancel(self, org: Any, n: int) -> list[Op]:
        return self._set_status(org, n, "Cancelled")

    @staticmethod
    def splittable(keys: UnitKeys) -> Callable[[dict], bool]:
        return lambda v: isinstance(v.get(keys.count), int) and v[keys.count] >= 2

    def _split_copies(self, v: dict, keys: UnitKeys) -> list[dict]:
        """2 (or 3) deep copies of a unit value without timestamps, each with its part of the
        block: a numeric block end (``…-123``) is counted on, another gets ``/<part>``."""
        total = v[keys.count]
        parts = 2 if total < 3 or self.rng.random() < 0.7 else 3
        cuts = sorted(self.rng.sample(range(1, total), parts - 1))
        counts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
        start = str(v.get(keys.start) or "")
        head, _, num = start.rpartition("-")
        base = int(num) if num.isdigit() else None
        out, off = [], 0
        for i, c in enumerate(counts):
            rec = copy.deepcopy(v)
            rec.pop(keys.created, None)
            rec.pop(keys.updated, None)
            if base is not None:
                rec[keys.start] = f"{head}-{base + off}"
                rec[keys.end] = f"{head}-{base + off + c - 1}"
            else:
                rec[keys.start] = f"{start}/{i + 1}"
                rec[keys.end] = f"{v.get(keys.end)}/{i + 1}"
            rec[keys.serial] = f"{rec[keys.start]}-{rec[keys.end]}"
            rec[keys.count] = c
            out.append(rec)
            off += c
        return out
