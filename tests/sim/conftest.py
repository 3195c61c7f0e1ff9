"""Fixtures: a shared read-only simulator and fresh ones for tests that commit activity."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cadt_sim import Simulator

SAMPLES = Path(__file__).parent / "samples"


def sample(name: str) -> object:
    return json.loads((SAMPLES / name).read_text())


def sample_headers(name: str) -> tuple[int, dict[str, str]]:
    """(status, headers) of a captured response (header names lower-cased)."""
    lines = (SAMPLES / name).read_text().splitlines()
    status = next(int(x.split()[1]) for x in lines if x.startswith("HTTP/"))
    hdrs = {}
    for x in lines:
        if ": " in x and not x.startswith("#"):
            k, _, v = x.partition(": ")
            hdrs[k.lower()] = v
    return status, hdrs


@pytest.fixture(scope="session")
def sim() -> Iterator[Simulator]:
    """Read-only: tests using it must not commit activity or set faults."""
    with Simulator(seed=7, scale=2) as s:
        yield s


@pytest.fixture(scope="session")
def client(sim: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sim.url, timeout=30) as c:
        yield c


@pytest.fixture()
def fresh() -> Iterator[Simulator]:
    """A private simulator (scale 1 builds in milliseconds) for mutating tests."""
    with Simulator(seed=3, scale=1) as s:
        yield s


@pytest.fixture()
def fc(fresh: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh.url, timeout=30) as c:
        yield c


def crawl(c: httpx.Client, route: str, pk: str, org: str | None = None, limit: int = 100
          ) -> list[dict]:
    """Keyset crawl exactly as the mirror does it."""
    out: list[dict] = []
    last = None
    while True:
        p: dict = {"order": f"{pk}:ASC", "page": 1, "limit": limit}
        if org:
            p["orgUid"] = org
        if last:
            p["filter"] = f"{pk}:{last}:gt"
        r = c.get(route, params=p)
        assert r.status_code == 200, r.text
        data = r.json()["data"]
        if not data:
            return out
        out.extend(data)
        last = data[-1][pk]
