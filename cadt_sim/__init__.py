"""CADT simulator: a faithful, scalable CADT v1 API server with a DataLayer-like ledger.

    with Simulator(seed=1, scale=1) as sim:
        httpx.get(sim.url + "/v1/units", params={"page": 1, "limit": 10})
        sim.activity("retire", count=3)
"""

from __future__ import annotations

import gc
from typing import Any

import orjson

from .activity import KINDS, build
from .admin import AdminClient
from .app import State, make_app
from .ledger import Ledger
from .server import Background
from .truth import snapshot

__all__ = ["KINDS", "AdminClient", "Simulator"]


class Simulator:
    """Build data, serve it on a free loopback port while in the ``with`` block."""

    def __init__(self, seed: int = 0, scale: float = 1, api_key: str | None = None,
                 host: str = "127.0.0.1", port: int = 0) -> None:
        self.seed, self.scale, self.host, self.port = seed, scale, host, port
        self.ledger: Ledger
        self.ledger, activity = build(seed, scale)
        gc.collect()
        gc.freeze()  # millions of stored rows: keep them out of every GC pass while serving
        self.state = State(self.ledger, activity, api_key)
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

    def random_activity(self, rng_seed: int, rounds: int = 1) -> list[dict[str, Any]]:
        return self.state.activity.random(rng_seed, rounds)

    def set_faults(self, rules: list[dict], seed: int = 0) -> None:
        self.state.faults.set(rules, seed)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def truth(self, table: str) -> list[dict]:
        return [orjson.loads(b) for b in snapshot(self.ledger, table)]

    def stats(self) -> dict:
        return self.state.stats_dict()

    def reset_stats(self) -> None:
        self.state.reset_stats()

    def start_churn(self, interval_ms: int = 50, kinds: list[str] | None = None) -> None:
        self.state.start_churn(interval_ms, kinds)

    def stop_churn(self) -> None:
        self.state.stop_churn()
