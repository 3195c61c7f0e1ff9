"""`cadt-mirror` as a user runs it: real processes, real simulator, real warehouse."""

from __future__ import annotations

import duckdb

from tests.support.cli import run_cli
from tests.support.truth import diff


def test_sync_then_status(sim, db_path):
    env = {"CADT_API_URL": sim.url + "/api/v1", "CADT_MIRROR_DB": str(db_path)}
    proc = run_cli("sync", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "success" in proc.stdout and "new organization" in proc.stdout
    assert "requests" in proc.stdout
    assert diff(sim, db_path) == {}
    status = run_cli("status", env=env)
    assert status.returncode == 0, status.stderr
    names = [o["name"] for o in sim.truth("organizations")]
    assert all(n[:20] in status.stdout for n in names)
    assert "quarantined records" in status.stdout


def test_sync_failure_exits_non_zero_with_a_message(db_path):
    proc = run_cli("sync", "--retries", "1", "--api-url", "http://127.0.0.1:9/api/v1", "--database",
                str(db_path),
                env={"CADT_MIRROR_DB": str(db_path)}, timeout=120)
    assert proc.returncode == 1
    assert "error:" in proc.stderr and "/v1/organizations" in proc.stderr


def test_status_without_a_warehouse_says_what_to_do(tmp_path):
    proc = run_cli("status", "--database", str(tmp_path / "none.duckdb"))
    assert proc.returncode == 1 and "cadt-mirror sync" in proc.stdout


def test_demo_runs_end_to_end(tmp_path):
    db = tmp_path / "demo" / "cadt.duckdb"
    proc = run_cli("demo", "--dir", str(db.parent), "--scale", "1", timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "4/4" in proc.stdout and "marts:" in proc.stdout
    # both data models: synced, changed, synced again, and summarised
    assert "data model v2" in proc.stdout and "cadt_v2 Article 6 (AEF): " in proc.stdout
    con = duckdb.connect(str(db), read_only=True)
    try:
        assert con.execute("SELECT count(*) FROM marts.fct_retirements").fetchall()[0][0] > 0
        assert con.execute(
            "SELECT catalog_version, count(*) FROM cadt_mirror.sync_runs WHERE status = "
            "'success' GROUP BY 1 ORDER BY 1").fetchall() == [("v1", 2), ("v2", 2)]
        assert con.execute("SELECT count(*) FROM cadt_v2.aef_t3_actions").fetchall()[0][0] > 0
    finally:
        con.close()
