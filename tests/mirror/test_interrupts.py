"""Ctrl-C / SIGINT / SIGTERM always end a sync cleanly (issue 10).

A real `cadt-mirror sync --full-refresh` process is paused at a named point
(`CADT_MIRROR_CRASH_AT=<point>:<n>:pause`, pipelines/crashpoints.py): it says so on stderr, the
test then sends it a real signal. No sleeps: the process tells us where it is. After each: the
exit code, the time it took, the run recorded `interrupted` with the organizations it had
committed, nothing of the others changed, and the next sync converges to the simulator's truth.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from pipelines.source.catalog_v1 import V1
from pipelines.sync import run_sync
from tests.support.cli import run_cli
from tests.support.truth import diff

ORG_TABLES = [t.name for t in V1.tables if "org_uid" in t.columns and t.name != "organizations"]
CASES = [
    # (the first two responses are the data-model probes, /v1 and /v2/organizations)
    ("response:6", signal.SIGINT),       # pages in flight: a response just read, others on the wire
    ("page_landed:3", signal.SIGTERM),   # pages queued for staging
    ("exploded:2", signal.SIGINT),       # pages just staged into DuckDB
    ("before_commit:2", signal.SIGTERM),  # between one organization's commit and the next
    ("mid_commit:3", signal.SIGINT),     # inside the first organization's commit transaction
    ("mid_commit:3", signal.SIGTERM),
    ("after_commit:1", signal.SIGINT),   # right after an organization committed
]
# commits run one at a time: the first organization's is rolled back, or the only one kept
EXPECTED_COMMITS = {"before_commit:2": 1, "mid_commit:3": 0, "after_commit:1": 1}


def _paused_sync(settings, point: str) -> subprocess.Popen:
    """Start `cadt-mirror sync --full-refresh` and return once it is paused at `point`."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--quiet", "--full-refresh",
         "--api-url", settings.api_url, "--database", str(settings.database)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CADT_MIRROR_CRASH_AT": f"{point}:pause"})
    seen = []
    for line in proc.stderr:  # blocks until the process writes; EOF if it ends instead
        seen.append(line)
        if line.startswith(f"crashpoint {point} paused"):
            return proc
    proc.wait()
    pytest.fail(f"the sync never reached {point}: {''.join(seen)}")


def _state(database) -> dict[str, tuple]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {r[0]: r[1:] for r in con.execute(
            "SELECT org_uid, generation, audit_rows, sync_id FROM cadt_mirror.sync_state"
        ).fetchall()}
    finally:
        con.close()


def _last_run(database) -> tuple:
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(
            "SELECT sync_id, status, error, summary->'$.committed' FROM cadt_mirror.sync_runs "
            "ORDER BY started_at DESC LIMIT 1").fetchall()[0]
    finally:
        con.close()


def _rows_written_by(database, sync_id: str) -> set[str]:
    """Organizations that have rows written by `sync_id` in any table of theirs."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return {r[0] for t in ORG_TABLES for r in con.execute(
            f"SELECT DISTINCT org_uid FROM {V1.qualified(t)} WHERE _sync_id = ?",
            [sync_id]).fetchall()}
    finally:
        con.close()


@pytest.mark.parametrize(("point", "sig"), CASES, ids=[f"{p}-{s.name}" for p, s in CASES])
def test_signal_during_a_full_refresh_stops_cleanly_and_the_next_sync_converges(
        sim, settings, point, sig):
    assert run_sync(settings).status == "success"
    for kind in ("retire", "split", "edit_projects", "issue_units"):
        sim.activity(kind, count=2)
    before = _state(settings.database)

    proc = _paused_sync(settings, point)
    sent = time.monotonic()
    proc.send_signal(sig)
    try:
        _, err = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        pytest.fail(f"the sync hung after {sig.name} at {point}")
    took = time.monotonic() - sent

    assert proc.returncode == 128 + sig, err
    assert took < 2.0, took
    assert "Traceback" not in err and "InvalidStateError" not in err, err
    sync_id, status, error, committed = _last_run(settings.database)
    assert status == "interrupted" and sig.name in error, error
    committed = {o["org_uid"] for o in json.loads(committed)}
    after = _state(settings.database)
    assert {o for o, s in after.items() if s[2] == sync_id} == committed
    for org in before.keys() - committed:  # rolled back or never started: as they were
        assert after[org] == before[org], org
    assert _rows_written_by(settings.database, sync_id) <= committed
    if point in EXPECTED_COMMITS:
        assert len(committed) == EXPECTED_COMMITS[point], committed

    report = run_sync(settings)
    assert report.status == "success", report.error
    assert diff(sim, settings.database) == {}


def test_runs_left_running_by_a_killed_process_are_marked_abandoned(sim, settings):
    killed = run_cli("sync", "--quiet", "--api-url", settings.api_url, "--database",
                     str(settings.database), env={"CADT_MIRROR_CRASH_AT": "before_commit:1"},
                     timeout=120)
    assert killed.returncode == -signal.SIGKILL
    sync_id, status, _, _ = _last_run(settings.database)
    assert status == "running"
    report = run_sync(settings)
    assert report.status == "success", report.error
    con = duckdb.connect(str(settings.database), read_only=True)
    runs = dict(con.execute("SELECT sync_id, status FROM cadt_mirror.sync_runs").fetchall())
    con.close()
    assert runs == {sync_id: "abandoned", report.sync_id: "success"}
    assert diff(sim, settings.database) == {}
