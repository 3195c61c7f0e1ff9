"""Fixtures shared by the mirror tests: a real simulator on loopback and a fresh warehouse."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.source.catalog_v1 import V1
from pipelines.sync import SyncSettings
from pipelines.warehouse import landing
from pipelines.warehouse.schema import ensure_schema


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


@pytest.fixture
def staging_con() -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory warehouse with its staging tables, for landing records directly."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    ensure_schema(con, V1)
    landing.ensure_staging(con, V1)
    yield con
    con.close()
