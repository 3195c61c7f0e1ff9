"""Warehouses built with the real `dbt build`, once per session (the dbt tests share a worker):
the hand-written story, the same with data-quality cases, and a synced simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.sync import SyncSettings, run_sync
from pipelines.transform import build
from pipelines.warehouse.publish import publish_file

from .warehouse import build_warehouse


def _read(db: Path) -> Callable[[str], list[tuple]]:
    def run(sql: str) -> list[tuple]:
        con = duckdb.connect(str(db), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run


@pytest.fixture(scope="session")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt")
    db = build_warehouse(root / "cadt.duckdb")
    code = build(db, target_path=root / "target")
    assert code == 0, "dbt build failed on the hand-written warehouse"
    return db


@pytest.fixture(scope="session")
def query(built_warehouse: Path) -> Callable[[str], list[tuple]]:
    return _read(built_warehouse)


@pytest.fixture(scope="session")
def quality_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt_quality")
    db = build_warehouse(root / "cadt.duckdb", quality_cases=True)
    code = build(db, target_path=root / "target")
    assert code == 0, "dbt build failed on the warehouse with data-quality cases"
    return db


@pytest.fixture(scope="session")
def quality_query(quality_warehouse: Path) -> Callable[[str], list[tuple]]:
    return _read(quality_warehouse)


@dataclass
class SimWarehouse:
    sim: Simulator
    database: Path
    query: Callable[[str], list[tuple]]


@pytest.fixture(scope="session")
def sim_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimWarehouse]:
    """The simulator (seed 11, scale 1), synced, after 6 rounds of random activity (and a few
    retirements and project edits), synced again, built and published (the serving copy). The simulator stays up for the session, so tests can read its truth."""
    root = tmp_path_factory.mktemp("dbt_sim")
    with Simulator(seed=11, scale=1) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=root / "cadt.duckdb",
                                max_retries=8)
        assert run_sync(settings).status == "success"
        sim.random_activity(rng_seed=5, rounds=6)
        for kind in ("retire", "edit_projects"):  # for the change-feed examples
            sim.activity(kind, count=3)
        assert run_sync(settings).status == "success"
        assert build(settings.database, target_path=root / "target") == 0
        publish_file(settings.database)  # as `cadt-mirror build` does: search reads this copy
        yield SimWarehouse(sim, settings.database, _read(settings.database))
