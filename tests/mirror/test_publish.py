"""Publishing: complete snapshots with their metadata, Parquet exports, N dated snapshots kept;
`build` on a never-synced warehouse and `build -s`. Real simulator, DuckDB and dbt."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from pipelines.sync import run_sync
from pipelines.warehouse.builds import MartsBuild
from pipelines.warehouse.publish import (
    RAW_AND_MARTS,
    RAW_ONLY,
    publish_file,
    read_published,
    serving_dir,
    serving_path,
)
from tests.support.cli import run_cli

pytestmark = pytest.mark.xdist_group("cadt_publish")


def _rows(path: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def _snapshots(serving: Path) -> list[str]:
    return sorted(p.name for p in (serving_dir(serving) / "snapshots").iterdir())


@pytest.fixture
def synced(settings, monkeypatch):
    monkeypatch.delenv("CADT_MIRROR_SERVING_DB", raising=False)
    monkeypatch.delenv("CADT_MIRROR_KEEP_SNAPSHOTS", raising=False)
    assert run_sync(settings).status == "success"
    return settings.database


def test_a_sync_publishes_its_raw_tables_alone_clearly_marked(synced):
    serving = serving_path(synced)
    meta = read_published(serving)
    assert meta["contents"] == RAW_ONLY and meta["published_by"] == "cadt-mirror sync"
    assert meta["marts_invocation_id"] is None and "raw only" in meta["marts_build"]
    state = dict(_rows(synced, "SELECT org_uid, generation FROM cadt_mirror.sync_state"))
    assert meta["generations"] == state and state
    [node] = _rows(synced, "SELECT api_url FROM cadt_mirror.node")
    assert meta["node_url"] == node[0]
    current = serving_dir(serving) / "current"
    assert json.loads((current / "published.json").read_text()) == meta
    assert (current / "cadt.duckdb").stat().st_ino == serving.stat().st_ino  # one file
    assert (current / "report.html").stat().st_size > 1_000_000  # plotly.js inlined
    with serving.open("rb") as f:  # DuckDB's v1.0 storage format: 1.x readers can open it
        assert int.from_bytes(f.read(20)[12:20], "little") == 64


def test_stale_marts_stay_out_and_current_ones_go_to_parquet_with_the_metadata(synced):
    con = duckdb.connect(str(synced))
    con.execute("CREATE SCHEMA marts; CREATE TABLE marts.dim_projects AS "
                "SELECT org_uid, count(*) AS n FROM cadt_v1.projects GROUP BY 1")
    con.close()
    stale = publish_file(synced)  # no build recorded: the marts are not of these raw tables
    assert stale.metadata["contents"] == RAW_ONLY
    assert _rows(stale.path, "SELECT count(*) FROM information_schema.tables "
                             "WHERE table_schema = 'marts'") == [(0,)]
    assert not (stale.snapshot / "parquet").exists()

    build = MartsBuild("inv-1", datetime.now(UTC), None, "a test")
    fresh = publish_file(synced, marts=build, by="a test")
    meta = read_published(fresh.path)
    assert meta == fresh.metadata and meta["contents"] == RAW_AND_MARTS
    assert meta["marts_invocation_id"] == "inv-1" and meta["published_by"] == "a test"
    orgs = len(_rows(synced, "SELECT DISTINCT org_uid FROM cadt_v1.projects"))
    assert meta["marts"] == {"dim_projects": orgs}
    parquet = fresh.current / "parquet" / "dim_projects.parquet"
    con = duckdb.connect()
    try:
        assert con.execute("SELECT count(*) FROM read_parquet(?)", [str(parquet)]
                           ).fetchall() == [(orgs,)]
        [(kv,)] = con.execute("SELECT decode(value) FROM parquet_kv_metadata(?) WHERE "
                              "decode(key) = 'cadt_mirror_published'", [str(parquet)]).fetchall()
    finally:
        con.close()
    assert json.loads(kv) == meta


def test_publish_keeps_the_last_n_snapshots(synced):
    serving = serving_path(synced)
    publish_file(synced, keep=2)
    publish_file(synced, keep=2)
    proc = run_cli("publish", env={"CADT_MIRROR_DB": str(synced), "CADT_MIRROR_KEEP_SNAPSHOTS": "2"})
    assert proc.returncode == 0, proc.stderr
    assert "raw only" in proc.stdout and str(serving) in proc.stdout
    kept = _snapshots(serving)
    assert len(kept) == 2
    newest = read_published(serving)["snapshot_id"]
    assert kept[-1] == newest
    assert os.readlink(serving_dir(serving) / "current") == f"snapshots/{newest}"
    assert read_published(serving_dir(serving) / "snapshots" / kept[0] / "cadt.duckdb")[
        "snapshot_id"] == kept[0]


@pytest.mark.parametrize(("command", "value"), [(("publish",), "0"),
                                               (("sync", "--api-url", "http://127.0.0.1:9"), "1.5")])
def test_keep_snapshots_is_checked_before_anything_starts(tmp_path, command, value):
    db = tmp_path / "cadt.duckdb"
    proc = run_cli(*command, env={"CADT_MIRROR_DB": str(db), "CADT_MIRROR_KEEP_SNAPSHOTS": value})
    assert proc.returncode == 2
    assert f"CADT_MIRROR_KEEP_SNAPSHOTS={value!r} is not allowed" in proc.stderr
    assert "whole number of at least 1" in proc.stderr
    assert not db.exists()


def test_build_on_a_never_synced_warehouse_says_sync_first(tmp_path):
    db = tmp_path / "cadt.duckdb"
    failed = run_cli("sync", "--quiet", "--retries", "0", "--api-url",
                     "http://127.0.0.1:9/api/v1", "--database", str(db))
    assert failed.returncode == 1 and db.exists()  # a warehouse with one failed run
    proc = run_cli("build", "--database", str(db))
    assert proc.returncode == 1
    assert "has never been synced" in proc.stdout and "run `cadt-mirror sync` first" in proc.stdout
    assert len(proc.stdout.splitlines()) == 1 and proc.stderr == ""
