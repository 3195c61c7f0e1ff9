"""A hand-written warehouse, built once per module with the real `dbt build`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest

from pipelines.transform import build

from .warehouse import build_warehouse


@pytest.fixture(scope="module")
def built_warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("dbt")
    db = build_warehouse(root / "cadt.duckdb")
    code = build(db, target_path=root / "target")
    assert code == 0, "dbt build failed on the hand-written warehouse"
    return db


@pytest.fixture(scope="module")
def query(built_warehouse: Path) -> Callable[[str], list[tuple]]:
    def run(sql: str) -> list[tuple]:
        con = duckdb.connect(str(built_warehouse), read_only=True)
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()

    return run
