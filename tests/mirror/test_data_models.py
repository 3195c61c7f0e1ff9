"""`cadt-mirror sync` detects the data models a node serves and mirrors each of them (issue 11):
real simulators on loopback (a 1.7.24 build without /v2, a v2 build, a v2 build with no v2
store yet), real DuckDB, the real CLI as a process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.config import SettingError
from pipelines.source.catalog_v2 import V2
from pipelines.sync import SyncSettings
from pipelines.sync.data_models import detect, models_setting, sync_data_models
from tests.support.cli import run_cli
from tests.support.truth import diff


@pytest.fixture
def sim_v2() -> Iterator[Simulator]:
    """v1-only, v2-only and mixed (upgraded) organizations."""
    with Simulator(seed=21, scale=1, v2=True) as s:
        yield s


def _settings(sim: Simulator, db: Path) -> SyncSettings:
    return SyncSettings(api_url=sim.url + "/api/v1", database=db)


def _runs(db: Path) -> list[tuple[str, str]]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute("SELECT catalog_version, status FROM cadt_mirror.sync_runs "
                           "ORDER BY started_at").fetchall()
    finally:
        con.close()


def _env(sim: Simulator, db: Path) -> dict[str, str]:
    return {"CADT_API_URL": sim.url + "/api/v1", "CADT_MIRROR_DB": str(db)}


# -- detection ------------------------------------------------------------------------------------


def test_detection_one_request_per_model(sim, sim_v2, tmp_path):
    old = detect(_settings(sim, tmp_path / "a.duckdb"))
    assert old.served == ("v1",)
    assert old.probes["v2"].served is False and "404" in old.probes["v2"].error
    assert set(old.probes["v1"].orgs) == {o["orgUid"] for o in sim.truth("organizations")}
    assert "v2: not served by this node" in old.describe()

    new = detect(_settings(sim_v2, tmp_path / "b.duckdb"))
    assert new.served == ("v1", "v2")
    v2_orgs = {o["org_uid"] for o in sim_v2.truth("organizations", model="v2")}
    assert set(new.probes["v2"].orgs) == v2_orgs
    # an upgraded organization is in both maps under the same orgUid; one is in v2 only
    assert set(new.probes["v1"].orgs) & v2_orgs and v2_orgs - set(new.probes["v1"].orgs)


def test_v2_routes_without_a_v2_store_yet_count_as_served(tmp_path):
    with Simulator(seed=4, scale=0.5, v2="empty") as sim:
        found = detect(_settings(sim, tmp_path / "m.duckdb"))
        assert found.served == ("v1", "v2") and found.probes["v2"].orgs == {}
        run = sync_data_models(_settings(sim, tmp_path / "m.duckdb"))
        assert run.status == "success" and list(run.reports) == ["v1", "v2"]
        assert diff(sim, tmp_path / "m.duckdb") == {}


def test_data_models_setting(monkeypatch):
    assert models_setting("all") == ("v1", "v2") and models_setting("v2") == ("v2",)
    monkeypatch.setenv("CADT_DATA_MODELS", "v1")
    assert models_setting() == ("v1",)
    monkeypatch.setenv("CADT_DATA_MODELS", "v3")
    with pytest.raises(SettingError, match="CADT_DATA_MODELS='v3' is not allowed"):
        models_setting()
    proc = run_cli("sync", "--data-model", "v3")
    assert proc.returncode == 2 and "--data-model" in proc.stderr


# -- sync -----------------------------------------------------------------------------------------


def test_sync_mirrors_every_served_model_by_default(sim_v2, tmp_path):
    db = tmp_path / "m.duckdb"
    proc = run_cli("sync", env=_env(sim_v2, db))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "data models: v1 (" in proc.stdout and "data model v2" in proc.stdout
    assert _runs(db) == [("v1", "success"), ("v2", "success")]
    assert diff(sim_v2, db) == {}
    assert diff(sim_v2, db, catalog=V2) == {}
    con = duckdb.connect(str(db), read_only=True)
    try:
        both = con.execute("SELECT count(*) FROM cadt_v1.organizations JOIN "
                           "cadt_v2.organizations USING (org_uid)").fetchall()[0][0]
        aef = con.execute("SELECT count(*) FROM cadt_v2.aef_t3_actions").fetchall()[0][0]
    finally:
        con.close()
    assert both >= 1 and aef > 0
    published = db.with_name("m.serving.duckdb")
    assert published.exists()  # published once, after both models

    sim_v2.activity("v2_retire", count=2)
    sim_v2.activity("retire", count=2)
    again = run_cli("sync", "--quiet", env=_env(sim_v2, db))
    assert again.returncode == 0, again.stdout + again.stderr
    assert diff(sim_v2, db) == {} and diff(sim_v2, db, catalog=V2) == {}


def test_one_model_when_asked(sim_v2, tmp_path):
    db = tmp_path / "m.duckdb"
    v1 = run_cli("sync", "--quiet", "--data-model", "v1", env=_env(sim_v2, db))
    assert v1.returncode == 0, v1.stderr
    assert _runs(db) == [("v1", "success")]
    v2 = run_cli("sync", "--quiet", env={**_env(sim_v2, db), "CADT_DATA_MODELS": "v2"})
    assert v2.returncode == 0, v2.stderr
    assert _runs(db) == [("v1", "success"), ("v2", "success")]
    assert diff(sim_v2, db, catalog=V2) == {}


def test_a_v1_only_node(sim, tmp_path):
    db = tmp_path / "m.duckdb"
    proc = run_cli("sync", "--quiet", "--data-model", "all", env=_env(sim, db))
    assert proc.returncode == 0, proc.stderr
    assert "v2: not served by this node" in proc.stdout
    assert _runs(db) == [("v1", "success")]
    assert diff(sim, db) == {}

    refused = run_cli("sync", "--data-model", "v2", env=_env(sim, db))
    assert refused.returncode == 2
    [line] = [x for x in refused.stderr.splitlines() if x.strip()]
    assert line.startswith("error: data model v2 is not served by the CADT node"), line
    assert _runs(db) == [("v1", "success")]  # nothing started


def test_org_filter_goes_to_the_model_that_lists_it(sim_v2, tmp_path):
    db = tmp_path / "m.duckdb"
    v1_orgs = {o["orgUid"] for o in sim_v2.truth("organizations")}
    v2_only = next(o["org_uid"] for o in sim_v2.truth("organizations", model="v2")
                   if o["org_uid"] not in v1_orgs)
    run = sync_data_models(SyncSettings(api_url=sim_v2.url, database=db, orgs=(v2_only,)))
    assert list(run.reports) == ["v2"] and run.status == "success"
    assert "v1" in run.skipped


# -- interrupts -----------------------------------------------------------------------------------


def _paused(sim: Simulator, db: Path, point: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.cli", "sync", "--quiet", "--api-url",
         sim.url + "/api/v1", "--database", str(db)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "CADT_MIRROR_CRASH_AT": f"{point}:pause"})
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"crashpoint {point} paused"):
            return proc
    proc.wait()
    pytest.fail(f"the sync never reached {point}: {''.join(seen)}")


@pytest.mark.parametrize(("point", "sig", "runs"), [
    ("between_models:1", signal.SIGTERM, [("v1", "success")]),
    ("before_commit:1", signal.SIGINT, [("v1", "interrupted")]),
])
def test_an_interrupt_stops_before_the_next_model(sim_v2, tmp_path, point, sig, runs):
    db = tmp_path / "m.duckdb"
    proc = _paused(sim_v2, db, point)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + sig, out + err
    assert "Traceback" not in err, err
    assert _runs(db) == runs  # the v2 sync never started
    assert run_cli("sync", "--quiet", env=_env(sim_v2, db)).returncode == 0
    assert diff(sim_v2, db) == {} and diff(sim_v2, db, catalog=V2) == {}


# -- status ---------------------------------------------------------------------------------------


def test_status_shows_v2_organizations_and_asks_both_maps(sim_v2, tmp_path):
    db = tmp_path / "m.duckdb"
    env = {**_env(sim_v2, db), "COLUMNS": "80"}
    assert run_cli("sync", "--quiet", env=env).returncode == 0
    status = run_cli("status", env=env)
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert max(map(len, lines)) <= 80, status.stdout
    header = next(line for line in lines if "organization" in line and "gen" in line)
    assert " dm " in header
    rows = [line.split() for line in lines if " v2 " in line and line.rstrip()[-1:] != ")"]
    v2_orgs = sim_v2.truth("organizations", model="v2")
    assert len(rows) == len(v2_orgs), status.stdout
    assert "last run (v2)" in status.stdout

    sim_v2.activity("v2_retire", count=1)
    check = run_cli("status", "--check", env=env)
    assert check.returncode == 0, check.stderr
    text = " ".join(check.stdout.split())
    assert "(/v1/organizations) answered 304" in text, check.stdout
    assert "(/v2/organizations): 1 organization(s) moved" in text, check.stdout
