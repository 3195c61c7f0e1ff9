"""Syncs through the simulator's faults and under churn converge to the ground truth."""

from __future__ import annotations

from dataclasses import replace

import duckdb
import pytest

from pipelines.sync import run_sync
from tests.support.truth import diff

TRANSPORT = [
    {"kind": "5xx", "status": 503},
    {"kind": "5xx", "status": 500},
    {"kind": "429", "retry_after": 0},
    {"kind": "cut"},
    {"kind": "truncate"},
    {"kind": "latency", "latency_ms": 30},
]


@pytest.fixture
def fast_retry(settings):
    return replace(settings, backoff_base=0.01, max_retries=12)


@pytest.mark.parametrize("fault", TRANSPORT, ids=lambda f: f"{f['kind']}-{f.get('status', '')}")
def test_each_transport_fault_at_20_percent_converges(sim, fast_retry, fault):
    sim.set_faults([{"route": "*", "rate": 0.2, **fault}], seed=3)
    report = run_sync(fast_retry)
    assert report.status == "success", report.error
    if fault["kind"] != "latency":
        assert report.retries > 0  # the fault really fired and was retried
    for kind in ("retire", "split", "delete_projects", "add_children"):
        sim.activity(kind, count=2)
    report = run_sync(fast_retry)
    assert report.status == "success", report.error
    sim.clear_faults()
    assert diff(sim, fast_retry.database) == {}


def test_mixed_faults_at_30_percent_converge(sim, fast_retry):
    rules = [{"route": "*", "rate": 0.06, **f} for f in TRANSPORT[:5]]
    sim.set_faults(rules, seed=9)
    report = run_sync(fast_retry)
    assert report.status == "success", report.error
    assert report.retries > 0  # the faults really fired and were retried
    sim.activity("edit_units", count=3)
    sim.activity("delete_units", count=2)
    report = run_sync(fast_retry)
    assert report.status == "success", report.error
    sim.clear_faults()
    assert diff(sim, fast_retry.database) == {}


def test_permanent_failure_fails_clearly_and_keeps_last_good_state(sim, fast_retry):
    assert run_sync(fast_retry).status == "success"
    con = duckdb.connect(str(fast_retry.database), read_only=True)
    before = con.execute("SELECT count(*), sum(hash(COLUMNS(*))) FROM cadt_v1.units").fetchall()
    con.close()
    sim.activity("retire", count=3)
    sim.set_faults([{"route": "/v1/audit", "kind": "5xx", "status": 503, "rate": 1.0}])
    report = run_sync(replace(fast_retry, max_retries=2))
    assert report.status == "partial"
    assert "giving up after 3 attempts" in report.error and "HTTP 503" in report.error
    con = duckdb.connect(str(fast_retry.database), read_only=True)
    after = con.execute("SELECT count(*), sum(hash(COLUMNS(*))) FROM cadt_v1.units").fetchall()
    status = con.execute("SELECT status, error FROM cadt_mirror.sync_runs "
                         "ORDER BY started_at DESC LIMIT 1").fetchall()[0]
    con.close()
    assert after == before
    assert status[0] == "partial" and "503" in status[1]
    sim.clear_faults()
    assert run_sync(fast_retry).status == "success"
    assert diff(sim, fast_retry.database) == {}


def test_malformed_records_are_quarantined_with_a_reason_and_nothing_crashes(sim, fast_retry):
    sim.set_faults([{"route": "/v1/units", "kind": "malformed", "rate": 1.0}], seed=5)
    report = run_sync(fast_retry)
    assert report.status == "success", report.error
    con = duckdb.connect(str(fast_retry.database), read_only=True)
    reasons = con.execute("SELECT reason, raw FROM cadt_mirror.quarantine WHERE table_name = 'units'"
                          ).fetchall()
    con.close()
    assert reasons, "malformed unit records must be quarantined"
    assert all(r and raw for r, raw in reasons)
    assert any("cannot read" in r or "missing primary key" in r for r, _ in reasons)
    sim.clear_faults()
    assert run_sync(replace(fast_retry, full_refresh=True)).status == "success"
    assert diff(sim, fast_retry.database) == {}


def test_crawl_under_churn_then_sync_is_exact(sim, settings):
    sim.start_churn(interval_ms=5)
    try:
        first = run_sync(settings)
        second = run_sync(settings)
    finally:
        sim.stop_churn()
    assert first.status == "success" and second.status == "success"
    assert any(o.mode == "incremental" for o in second.orgs)  # the source kept moving
    assert run_sync(settings).status == "success"
    assert diff(sim, settings.database) == {}


def test_a_node_listing_no_organizations_deletes_nothing(sim, settings):
    assert run_sync(settings).status == "success"
    for org in list(sim.ledger.orgs):
        sim.activity("remove_org", org=org)
    report = run_sync(settings)
    assert report.status == "failed"
    assert "lists no organizations" in report.error
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] > 0
    finally:
        con.close()
