"""A real simulator, a warehouse file and the resources that point Dagster at both."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest
from dagster import RetryPolicy

from cadt_sim import Simulator
from pipelines.defs.resources import CadtApiResource, WarehouseResource

# The sync step's own policy waits minutes between attempts (and `execute_in_process` ignores
# executor config that would disable retries): tests build the sync asset with this one.
QUICK_RETRY = RetryPolicy(max_retries=1, delay=1)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, scale=1) as s:
        yield s


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CADT_MIRROR_SERVING_DB", raising=False)
    return tmp_path / "cadt.duckdb"


@pytest.fixture
def resources(sim: Simulator, db: Path) -> dict[str, object]:
    return {"cadt_api": CadtApiResource(api_url=sim.url + "/api/v1", max_retries=2),
            "warehouse": WarehouseResource(database=str(db))}


def scalar(path: Path, sql: str) -> object:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


@pytest.fixture
def make_defs(resources: dict[str, object], db: Path, monkeypatch: pytest.MonkeyPatch):
    """`make_definitions` over the test's simulator and warehouse (dbt included)."""
    from pipelines.definitions import make_definitions
    from pipelines.transform.dbt_assets import dbt_resource

    monkeypatch.setenv("CADT_MIRROR_DB", str(db))  # dbt_resource() sets it; restored after

    def build(manifest: Path | None = None, **overrides: object):
        return make_definitions({**resources, "dbt": dbt_resource(db), **overrides},
                                manifest=manifest, sync_retry=QUICK_RETRY)

    return build
