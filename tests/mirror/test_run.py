"""`cadt-mirror run` end to end against the simulator, readers of the serving copy while it
runs, `status --check`, and the report in a real headless Chromium: real processes, real
DuckDB, real dbt, no mocks."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.warehouse.publish import (
    RAW_AND_MARTS,
    RAW_ONLY,
    read_published,
    serving_dir,
    serving_path,
)
from tests.support.browser import inspect_page
from tests.support.cli import run_cli

pytestmark = pytest.mark.xdist_group("cadt_run")

# Reads the serving copy in a loop until its stdin closes: each read checks that the snapshot is
# complete (its published row's generations are the ones its rows are at; its marts add up to
# its raw units). Prints "ready" after the first read, then a JSON summary.
READER = r"""
import json, select, sys, time
import duckdb

path, reads, errors, seen = sys.argv[1], [], [], {}
def read():
    con = duckdb.connect(path, read_only=True)
    try:
        [(sid, contents, gens)] = con.execute(
            "SELECT snapshot_id, contents, generations FROM cadt_mirror.published").fetchall()
        gens = json.loads(gens)
        state = dict(con.execute("SELECT org_uid, generation FROM cadt_mirror.sync_state")
                     .fetchall())
        audit = dict(con.execute("SELECT org_uid, max(generation) FROM cadt_v1.audit "
                                 "GROUP BY 1").fetchall())
        assert gens == state and gens == audit, (sid, gens, state, audit)
        if contents == "raw + marts":
            issued, units = con.execute(
                "SELECT (SELECT sum(quantity_issued) FROM marts.dim_projects), "
                "(SELECT sum(unit_count) FROM cadt_v1.units)").fetchall()[0]
            assert issued == units, (sid, issued, units)
        seen[sid] = contents
    finally:
        con.close()
while True:
    try:
        read()
    except Exception as e:
        errors.append(repr(e))
    reads.append(time.time())
    if len(reads) == 1:
        print("ready", flush=True)
    # (a pause that leaves the run a core: pacing, nothing waits for anything here)
    if select.select([sys.stdin], [], [], 0.1)[0]:
        break
print(json.dumps({"reads": reads, "errors": errors[:5], "seen": seen}))
"""


@dataclass
class Mirror:
    sim: Simulator
    db: Path
    env: dict[str, str]
    synced: subprocess.CompletedProcess  # `cadt-mirror sync`: a raw-only snapshot
    first: subprocess.CompletedProcess  # then `cadt-mirror run`, while a reader read
    reader: dict  # what the reader saw: {"reads": [times], "errors": [...], "seen": {id: contents}}
    window: tuple[float, float]  # when the run started and ended

    def run(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        return run_cli(*args, env={**self.env, **env})


@pytest.fixture(scope="module")
def mirror(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mirror]:
    """A simulator and a warehouse: `cadt-mirror sync` (which publishes the raw tables), then
    activity upstream and `cadt-mirror run` (sync, checks, build, publish, report), while
    another process reads the serving copy the whole time."""
    root = tmp_path_factory.mktemp("run")
    with Simulator(seed=11, scale=1) as sim:
        env = {"CADT_API_URL": sim.url + "/api/v1", "CADT_MIRROR_DB": str(root / "cadt.duckdb"),
               "DBT_TARGET_PATH": str(root / "target"), "DBT_LOG_PATH": str(root / "logs")}
        env = {k: v for k, v in {**os.environ, **env}.items()
               if k not in ("CADT_MIRROR_SERVING_DB", "CADT_MIRROR_KEEP_SNAPSHOTS")}
        synced = run_cli("sync", env=env)
        assert synced.returncode == 0, synced.stdout + synced.stderr
        serving = serving_path(root / "cadt.duckdb")
        reader = subprocess.Popen([sys.executable, "-c", READER, str(serving)],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        try:
            assert reader.stdout.readline().strip() == "ready"  # reading before the run
            for kind in ("retire", "issue_units", "delete_units"):
                sim.activity(kind, count=2)
            started = time.time()
            first = run_cli("run", env=env, timeout=300)
            ended = time.time()
            reader.stdin.close()  # its last reads come after the run
            seen = json.loads(reader.stdout.read())
        finally:
            reader.kill()
            reader.wait()
        yield Mirror(sim, root / "cadt.duckdb", env, synced, first, seen, (started, ended))


def _scalar(path: Path, sql: str) -> object:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql).fetchall()[0][0]
    finally:
        con.close()


def test_run_syncs_checks_builds_and_publishes_a_complete_snapshot(mirror):
    proc = mirror.first
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    for step in ("1/4 sync", "2/4 checks", "3/4 dbt build", "4/4 publish"):
        assert step in proc.stdout
    assert "\x1b[" not in proc.stdout + proc.stderr  # no colour codes into a pipe
    assert len(proc.stdout.splitlines()) < 40, proc.stdout  # dbt's hundreds of lines stay quiet
    serving = serving_path(mirror.db)
    meta = read_published(serving)
    assert meta is not None and meta["contents"] == RAW_AND_MARTS
    build = _scalar(mirror.db, "SELECT invocation_id FROM cadt_mirror.marts_builds")
    assert meta["marts_invocation_id"] == build and meta["published_by"] == "cadt-mirror run"
    assert meta["node_url"] == mirror.sim.url and meta["last_sync_id"] in proc.stdout
    assert set(meta["generations"]) == {o["orgUid"] for o in mirror.sim.truth("organizations")}
    assert str(serving_dir(serving) / "current" / "report.html") in proc.stdout


def test_readers_only_ever_see_complete_snapshots_while_a_run_syncs_and_builds(mirror):
    seen = mirror.reader
    assert seen["errors"] == []
    assert sorted(seen["seen"].values()) == [RAW_AND_MARTS, RAW_ONLY]  # the sync's, the run's
    assert read_published(serving_path(mirror.db))["snapshot_id"] in seen["seen"]
    started, ended = mirror.window
    during = [t for t in seen["reads"] if started < t < ended]
    assert len(during) > 20, len(during)  # it read the whole time the sync and build ran


def test_nothing_changed_costs_two_requests_and_keeps_the_snapshot(mirror):
    before = read_published(serving_path(mirror.db))["snapshot_id"]
    proc = mirror.run("run")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "2 requests" in proc.stdout and "nothing changed" in proc.stdout
    assert "3/4" not in proc.stdout
    assert read_published(serving_path(mirror.db))["snapshot_id"] == before


def test_status_check_asks_the_node_and_fits_80_columns(mirror):
    quiet = mirror.run("status", "--check", COLUMNS="80")
    assert quiet.returncode == 0, quiet.stderr
    assert "answered 304" in quiet.stdout
    mirror.sim.activity("retire", count=3)
    moved = mirror.run("status", "--check", COLUMNS="80")
    assert moved.returncode == 0, moved.stderr
    lines = moved.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, moved.stdout
    rule = next(i for i, line in enumerate(lines) if line.strip().startswith("─"))
    rows = [line for line in lines[rule + 1:rule + 1 + len(mirror.sim.truth("organizations"))]]
    assert len(rows) == len(mirror.sim.truth("organizations")), moved.stdout
    assert sum(row.rstrip().endswith(" moved") for row in rows) == 1, moved.stdout
    assert "1 organization(s) moved" in moved.stdout
    # lag is the time since the last successful sync: seconds, not the age of the last change
    lag = rows[0].split()[-5]
    assert lag.endswith("s") or lag.endswith("m"), moved.stdout


def test_build_select_builds_only_that_model_and_passes_the_rest_to_dbt(mirror):
    full = read_published(serving_path(mirror.db))["marts_invocation_id"]
    proc = mirror.run("build", "-s", "stg_cadt_v1__organizations", "--",
                      "--indirect-selection", "cautious")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "\x1b[" not in proc.stdout and len(proc.stdout.splitlines()) < 8, proc.stdout
    assert "Done. PASS=" in proc.stdout
    results = json.loads((Path(mirror.env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    assert [r["unique_id"] for r in results["results"] if r["unique_id"].startswith("model.")
            ] == ["model.cadt_mirror.stg_cadt_v1__organizations"]
    assert _scalar(mirror.db, "SELECT selection FROM cadt_mirror.marts_builds "
                              "ORDER BY started_at DESC LIMIT 1") == (
        "--select stg_cadt_v1__organizations --indirect-selection cautious")
    meta = read_published(serving_path(mirror.db))
    # the raw tables did not move since the whole build: its marts are still theirs
    assert meta["contents"] == RAW_AND_MARTS and meta["marts_invocation_id"] == full


def test_the_report_renders_in_a_real_headless_chromium(mirror, tmp_path):
    report = serving_dir(serving_path(mirror.db)) / "current" / "report.html"
    copy = tmp_path / "report.html"
    shutil.copyfile(report, copy)  # as a user would mail it: one self-contained file
    shot = Path(os.environ.get("CADT_REPORT_SCREENSHOT") or tmp_path / "report.png")
    page = inspect_page(copy, shot)
    assert page.errors == []
    assert page.requests == [copy.resolve().as_uri()]  # nothing fetched: it opens offline
    assert page.title == "CADT Mirror report"
    expected = {"chart-vintage", "chart-year", "chart-registry", "chart-article6",
                "chart-double_counting", "chart-freshness"}
    assert page.ready == len(expected)
    assert {c["id"] for c in page.charts} == expected
    for chart in page.charts:
        assert chart["drawn"] and chart["traces"] > 0 and chart["points"] > 0, chart
    assert shot.stat().st_size > 50_000


def test_the_python_recipes_of_docs_bi_work_on_the_serving_copy(mirror):
    """docs/bi.md's Python blocks (polars and pandas), run on this serving copy."""
    import pandas as pd
    import polars as pl

    text = (Path(__file__).parents[2] / "docs" / "bi.md").read_text(encoding="utf-8")
    blocks = [b.split("```", 1)[0] for b in text.split("```python\n")[1:]]
    serving = serving_path(mirror.db)
    current = serving_dir(serving) / "current"
    ran = []
    for block in blocks:
        if "sqlalchemy" in block:  # duckdb-engine is Superset's, not ours
            continue
        code = (block.replace("data/cadt.serving.duckdb", str(serving))
                .replace("data/cadt.serving/current", str(current)))
        scope: dict = {}
        exec(compile(code, "docs/bi.md", "exec"), scope)
        ran.append(scope)
    assert len(ran) == 2
    assert isinstance(ran[0]["frame_pl"], pl.DataFrame) and isinstance(ran[0]["frame_pd"],
                                                                       pd.DataFrame)
    assert len(ran[0]["frame_pl"]) == len(ran[0]["frame_pd"]) > 0
    assert ran[0]["published"][1] == RAW_AND_MARTS
    assert ran[1]["projects"].height > 0 and len(ran[1]["retirements"]) > 0


def test_build_with_nothing_new_skips_dbt_and_keeps_the_snapshot(mirror):
    """No sync changed a raw table since the run's build, and the project is the same: the marts
    are current, so `cadt-mirror build` runs no dbt, records no build, publishes nothing."""
    before = read_published(serving_path(mirror.db))["snapshot_id"]
    count = "SELECT count(*) FROM cadt_mirror.marts_builds"
    builds_before = _scalar(mirror.db, count)
    proc = mirror.run("build")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "nothing to build" in proc.stdout and "Done. PASS=" not in proc.stdout, proc.stdout
    assert "already holds these marts" in proc.stdout, proc.stdout
    assert _scalar(mirror.db, count) == builds_before
    assert read_published(serving_path(mirror.db))["snapshot_id"] == before
    forced = mirror.run("build", "--all-tests")  # asked for the tests: dbt runs
    assert forced.returncode == 0 and "Done. PASS=" in forced.stdout, forced.stdout
    assert _scalar(mirror.db, count) == builds_before + 1
