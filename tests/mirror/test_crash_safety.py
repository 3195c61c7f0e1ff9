"""A sync killed with SIGKILL anywhere leaves a consistent warehouse; the next sync converges.

The sync runs as a real `cadt-mirror sync` process; CADT_MIRROR_CRASH_AT makes it SIGKILL itself
the n-th time it passes a named point (see pipelines/crashpoints.py): mid-crawl between pages,
after a page is landed, after pages are exploded into staging, before an org's commit, inside the
commit transaction, right after it.
"""

from __future__ import annotations

import signal
from dataclasses import replace

import duckdb
import pytest

from pipelines.sync import run_sync
from tests.support.cli import run_cli
from tests.support.truth import diff

FULL_SYNC_POINTS = ["response:1", "response:6", "response:12", "page_landed:1", "page_landed:3",
                    "page_landed:9", "exploded:1", "exploded:4", "exploded:7", "before_commit:1",
                    "before_commit:3", "mid_commit:2", "mid_commit:15", "mid_commit:27",
                    "after_commit:1", "after_commit:2"]
INCREMENTAL_POINTS = ["response:3", "page_landed:2", "before_commit:1", "mid_commit:5",
                      "mid_commit:13", "after_commit:1"]


def _killed_sync(settings, point: str, **env: str) -> int:
    return run_cli("sync", "--quiet", "--api-url", settings.api_url, "--database",
                   str(settings.database), env={"CADT_MIRROR_CRASH_AT": point, **env},
                   timeout=120).returncode


def _assert_consistent(settings) -> None:
    """Whatever the kill left must open cleanly and hold each org at one generation (a kill
    during the data-model probe, before the first sync began, leaves an empty file or none)."""
    if not settings.database.exists():
        return
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        if not con.execute("SELECT count(*) FROM information_schema.schemata "
                           "WHERE schema_name = 'cadt_mirror'").fetchall()[0][0]:
            return
        states = con.execute("SELECT org_uid, generation, audit_rows FROM cadt_mirror.sync_state"
                             ).fetchall()
        for org, _gen, audit_rows in states:
            n = con.execute("SELECT count(*) FROM cadt_v1.audit WHERE org_uid = ?",
                            [org]).fetchall()[0][0]
            assert n == audit_rows, (org, n, audit_rows)
    finally:
        con.close()


@pytest.mark.parametrize("point", FULL_SYNC_POINTS)
def test_kill_during_full_sync_then_sync_is_exact(sim, settings, point):
    assert _killed_sync(settings, point) == -signal.SIGKILL
    _assert_consistent(settings)
    report = run_sync(settings)
    assert report.status == "success", report.error
    assert diff(sim, settings.database) == {}


@pytest.mark.parametrize("point", INCREMENTAL_POINTS)
def test_kill_during_incremental_sync_then_sync_is_exact(sim, settings, point):
    assert run_sync(settings).status == "success"
    for kind in ("retire", "split", "delete_projects", "add_children", "issue_units"):
        sim.activity(kind, count=2)
    assert _killed_sync(settings, point) == -signal.SIGKILL
    _assert_consistent(settings)
    report = run_sync(settings)
    assert report.status == "success", report.error
    assert diff(sim, settings.database) == {}


def test_killed_snapshot_resumes_its_audit_backfill(sim, settings):
    """The audit history is staged in the warehouse file batch by batch: a snapshot killed in
    the middle of it continues from where it stopped instead of reading it all again."""
    small = replace(settings, page_size=50)
    # killed after several batches of audit pages were staged
    assert _killed_sync(small, "exploded:6", CADT_PAGE_SIZE="50") == -signal.SIGKILL
    con = duckdb.connect(str(small.database), read_only=True)
    staged = con.execute("SELECT count(*) FROM cadt_mirror.staging_v1_audit").fetchall()[0][0]
    con.close()
    assert staged > 0
    sim.reset_stats()
    report = run_sync(small)
    assert report.status == "success", report.error
    assert any("audit backfill resumed" in (o.reason or "") for o in report.orgs)
    audit_pages = sim.stats()["by_route"]["/v1/audit"]
    total_rows = len(sim.truth("audit"))
    assert audit_pages < total_rows / 50  # fewer than a read from scratch would need
    assert diff(sim, small.database) == {}
    con = duckdb.connect(str(small.database), read_only=True)
    assert con.execute("SELECT count(*) FROM cadt_mirror.staging_v1_audit").fetchall()[0][0] == 0
    con.close()
