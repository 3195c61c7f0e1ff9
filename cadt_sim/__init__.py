"""CADT simulator: a faithful, scalable CADT v1 + v2 API server with a DataLayer-like ledger.

    with Simulator(seed=1, scale=1) as sim:
        httpx.get(sim.url + "/v1/units", params={"page": 1, "limit": 10})
        sim.activity("retire", count=3)
"""

from __future__ import annotations

import gc
from typing import Any

import orjson

from .activity import KINDS, build
from .activity_v2 import V2_KINDS, build_v2
from .admin import AdminClient
from .app import State, make_app
from .ledger import Ledger
from .server import Background
from .truth import snapshot, snapshot_v2

__all__ = ["KINDS", "V2_KINDS", "AdminClient", "Simulator"]


class Simulator:
    """Build data, serve it on a free loopback port while in the ``with`` block."""

    def __init__(self, seed: int = 0, scale: float = 1, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0, rate_limit: str | None = None,
                 v2: bool | str = False, v2_decimals: str = "number",
                 v2_delete_null_share: float = 0.5) -> None:
        """``v2``: False = a 1.7.24 build (no /v2 routes); True = a v2-capable build where the
        last v1 org also has a v2 store and one org has a v2 store only; "empty" = v2 routes
        but no v2 store yet (orgs get one by the ``upgrade`` activity). ``v2_decimals``: v2
        DECIMAL columns as JSON numbers ("number", a SQLite node) or strings ("string", a
        MySQL node). ``v2_delete_null_share``: the share of v2 audit DELETE rows whose
        ``change`` is null."""
        self.seed, self.scale, self.host, self.port = seed, scale, host, port
        self.ledger: Ledger
        self.ledger, activity = build(seed, scale)
        activity.v2 = build_v2(self.ledger, seed, scale, v2_decimals, v2_delete_null_share, v2)
        gc.collect()
        gc.freeze()  # millions of stored rows: keep them out of every GC pass while serving
        self.state = State(self.ledger, activity, api_key, rate_limit)
        self.app = make_app(self.state)
        self._bg: Background | None = None
        self.url = ""

    def start(self) -> Simulator:
        self._bg = Background(self.app, self.host, self.port)
        self.port = self._bg.port
        self.url = f"http://{self.host}:{self.port}"
        self._bg.start()
        return self

    def stop(self) -> None:
        self.state.stop_churn()
        if self._bg is not None:
            self._bg.stop()
            self._bg = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- admin (same verbs as AdminClient) --------------------------------------------------
    def activity(self, kind: str, count: int = 1, org: str | None = None) -> dict[str, Any]:
        return self.state.activity.run(kind, count, org)

    def random_activity(self, rng_seed: int, rounds: int = 1, kinds: list[str] | None = None
                        ) -> list[dict[str, Any]]:
        """``kinds``: kind names or groups "v1" (default), "v2", "all"."""
        return self.state.activity.random(rng_seed, rounds, kinds)

    def set_faults(self, rules: list[dict], seed: int = 0) -> None:
        self.state.faults.set(rules, seed)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def truth(self, table: str, model: str = "v1") -> list[dict]:
        """Served rows of a node table: v1 names (``units``, ...) or, with ``model="v2"``,
        the v2 DataLayer prefixes (``unit``, ``aef_t3_actions``, ..., ``audit``)."""
        if model == "v2":
            return [orjson.loads(b) for b in snapshot_v2(self.ledger, table)]
        return [orjson.loads(b) for b in snapshot(self.ledger, table)]

    def stats(self) -> dict:
        return self.state.stats_dict()

    def reset_stats(self) -> None:
        self.state.reset_stats()

    def rejections(self) -> list[dict[str, Any]]:
        """Every 4xx answered to a CADT request since the last clear, oldest first: ``{at,
        method, route, path, query, status, message, errors, error, fault}``; ``fault`` is
        True when an injected fault (a ``429`` rule) gave the answer, not the node."""
        return self.state.rejections.rows()

    def clear_rejections(self) -> None:
        self.state.rejections.clear()

    def set_rate_limit(self, spec: str | None) -> None:
        """Limit every client IP like express-rate-limit (``"1000/15m"``, ``"50/2s"``);
        None removes it. Each call starts every client's window afresh."""
        self.state.set_rate_limit(spec)

    def start_churn(self, interval_ms: int = 50, kinds: list[str] | None = None) -> None:
        self.state.start_churn(interval_ms, kinds)

    def stop_churn(self) -> None:
        self.state.stop_churn()
