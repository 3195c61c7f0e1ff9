"""Fixtures shared by the mirror tests: a real simulator on loopback and a fresh warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cadt_sim import Simulator
from pipelines.sync import SyncSettings


@pytest.fixture
def sim() -> Iterator[Simulator]:
    """A fresh simulator (scale 1, ~3 orgs, ~1,000 unit records) per test."""
    with Simulator(seed=11, scale=1) as s:
        yield s


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "cadt.duckdb"


@pytest.fixture
def settings(sim: Simulator, db_path: Path) -> SyncSettings:
    # /api/v1: the public observer's URL form, which the simulator also serves.
    return SyncSettings(api_url=sim.url + "/api/v1", database=db_path, max_retries=8)
