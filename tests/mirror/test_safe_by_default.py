"""Safe by default (issue 10), in the user's words: the demo never touches a real warehouse, a
warehouse knows its node, and bad input gets a sentence, not a traceback.

Every case runs `cadt-mirror` as a real process; signals are in test_interrupts.py.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.sync import SyncSettings, run_sync
from pipelines.warehouse.db import connect
from tests.support.cli import run_cli
from tests.support.truth import diff

REPO = Path(__file__).resolve().parents[2]


def _marker_file(path: Path) -> str:
    """A DuckDB file that is somebody's real data; returns its hash."""
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE marker AS SELECT 'production' AS what, 42 AS answer")
    con.close()
    return _sha(path)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _one_sentence(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """The refusal: one line on stderr that says it all, never a traceback."""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr and "Traceback" not in proc.stdout, proc.stderr
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    return lines[0]


def _sync(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return run_cli("sync", "--quiet", *args, env=env, timeout=120)


# -- the demo ---------------------------------------------------------------------------------


def test_demo_with_cadt_mirror_db_exported_leaves_that_warehouse_untouched(tmp_path):
    """`make demo` with a real warehouse configured in the environment (warehouse and serving
    copy): both stay byte-identical, the demo works in its own directory."""
    prod, serving = tmp_path / "prod.duckdb", tmp_path / "prod.serving.duckdb"
    before = {p: _marker_file(p) for p in (prod, serving)}
    proc = run_cli("demo", "--no-build", "--scale", "0.5", cwd=tmp_path, timeout=300,
                   env={"CADT_MIRROR_DB": str(prod), "CADT_MIRROR_SERVING_DB": str(serving)})
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    assert {p: _sha(p) for p in before} == before
    assert not (tmp_path / "prod.duckdb.wal").exists()
    demo = tmp_path / "data" / "demo"
    assert (demo / "cadt.duckdb").exists() and (demo / "cadt.serving.duckdb").exists()
    assert str(serving) not in proc.stdout


def test_demo_refuses_to_overwrite_a_file_that_is_not_a_demo_warehouse(tmp_path):
    home = tmp_path / "demo"
    home.mkdir()
    theirs = home / "cadt.duckdb"
    digest = _marker_file(theirs)
    proc = run_cli("demo", "--no-build", "--dir", str(home), timeout=60)
    assert proc.returncode == 2
    _one_sentence(proc, "refusing to overwrite", str(theirs))
    assert _sha(theirs) == digest
    theirs.unlink()
    (home / "cadt.serving.duckdb").write_text("someone's notes\n")
    proc = run_cli("demo", "--no-build", "--dir", str(home), timeout=60)
    assert proc.returncode == 2
    _one_sentence(proc, "refusing to overwrite", "cadt.serving.duckdb")
    assert (home / "cadt.serving.duckdb").read_text() == "someone's notes\n"


def test_demo_help_tells_the_truth():
    proc = run_cli("demo", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    assert "data/demo/" in text and "data/demo.duckdb" not in text
    assert "CADT_MIRROR_DB and CADT_MIRROR_SERVING_DB are never used" in text


def test_make_demo_runs_the_demo_in_its_own_directory():
    """`make demo` is `cadt-mirror demo` with no path of its own (so: data/demo/)."""
    proc = subprocess.run(["make", "-n", "demo"], cwd=REPO, capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    demo_lines = [line for line in proc.stdout.splitlines() if "cadt-mirror" in line]
    assert demo_lines == [".venv/bin/cadt-mirror demo"], proc.stdout


# -- the node ---------------------------------------------------------------------------------


@pytest.fixture
def other_sim():
    with Simulator(seed=12, scale=0.5) as s:
        yield s


def test_the_warehouse_records_its_node_without_credentials(sim, db_path):
    root = sim.url  # http://127.0.0.1:<port>
    with_secrets = root.replace("http://", "http://reader:s3cret@") + "/api/v1/?debug=1"
    proc = _sync("--api-url", with_secrets, "--database", str(db_path))
    assert proc.returncode == 0, proc.stderr
    con = duckdb.connect(str(db_path), read_only=True)
    node = con.execute("SELECT api_url, governance_body, datamodel_version, api_version "
                       "FROM cadt_mirror.node").fetchall()
    runs = con.execute("SELECT api_url FROM cadt_mirror.sync_runs").fetchall()
    con.close()
    assert node == [(root, "false", "v1", node[0][3])] and node[0][3]
    assert "s3cret" not in str(runs) and "s3cret" not in proc.stdout
    # the same node spelt another way is the same node
    assert _sync("--api-url", root + "/v1", "--database", str(db_path)).returncode == 0


def test_syncing_a_warehouse_against_a_different_cadt_node_refuses_with_a_clear_message(
        sim, other_sim, settings):
    assert run_sync(settings).status == "success"
    proc = _sync("--api-url", other_sim.url, "--database", str(settings.database))
    assert proc.returncode == 1
    _one_sentence(proc, sim.url, other_sim.url, "--switch-node")
    assert diff(sim, settings.database) == {}  # nothing of it was removed


def test_switch_node_makes_it_mirror_the_other_node_and_the_switch_is_logged(
        sim, other_sim, settings):
    assert run_sync(settings).status == "success"
    proc = _sync("--switch-node", "--api-url", other_sim.url, "--database",
                 str(settings.database))
    assert proc.returncode == 0, proc.stderr
    assert diff(other_sim, settings.database) == {}
    con = duckdb.connect(str(settings.database), read_only=True)
    switched = con.execute("SELECT switched_from FROM cadt_mirror.sync_runs "
                           "WHERE switched_from IS NOT NULL").fetchall()
    node = con.execute("SELECT api_url FROM cadt_mirror.node").fetchall()
    con.close()
    assert switched == [(sim.url,)] and node == [(other_sim.url,)]
    # --full-refresh says so too
    back = run_sync(SyncSettings(api_url=sim.url, database=settings.database, full_refresh=True))
    assert back.status == "success", back.error
    assert diff(sim, settings.database) == {}


def test_switching_to_a_node_with_the_same_registries_re_reads_them(sim, settings):
    """Two nodes subscribed to the same registries show the same registryHash, but their audit
    ids and node-local times are their own: a switch re-snapshots every organization."""
    with Simulator(seed=11, scale=1) as twin:  # the `sim` fixture's seed: same organizations
        twin.activity("audit_reset", count=2)  # same hashes, other audit ids
        assert run_sync(settings).status == "success"
        report = run_sync(replace(settings, api_url=twin.url, switch_node=True))
        assert report.status == "success", report.error
        assert {o.mode for o in report.orgs} == {"snapshot"}
        assert diff(twin, settings.database) == {}


# -- settings and arguments -------------------------------------------------------------------


def _refused(db_path: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    """A sync with a bad value: exit 2 before anything is created or requested."""
    proc = _sync("--api-url", "http://127.0.0.1:9", "--database", str(db_path), *args, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert not db_path.exists()
    return proc


@pytest.mark.parametrize("value", ["abc", "1.5"])
def test_cadt_concurrency_abc_or_1_5_is_refused_with_a_sentence(db_path, value):
    proc = _refused(db_path, {"CADT_CONCURRENCY": value})
    _one_sentence(proc, "CADT_CONCURRENCY", repr(value), "from 1 to 16")


@pytest.mark.parametrize("value", ["0", "-3", "17"])
def test_cadt_concurrency_0_or_minus_3_is_refused_up_front_not_later(db_path, value):
    proc = _refused(db_path, {"CADT_CONCURRENCY": value})
    _one_sentence(proc, "CADT_CONCURRENCY", repr(value), "from 1 to 16")


@pytest.mark.parametrize("value", ["abc", "5000", "0"])
def test_cadt_page_size_abc_or_5000_is_refused_with_a_sentence(db_path, value):
    proc = _refused(db_path, {"CADT_PAGE_SIZE": value})
    _one_sentence(proc, "CADT_PAGE_SIZE", repr(value), "from 1 to 1000")


@pytest.mark.parametrize("value", ["lots", "10KB", "1GB'; SET threads = 1; --"])
def test_cadt_mirror_memory_limit_lots_is_refused_and_never_reaches_sql(db_path, value):
    proc = _refused(db_path, {"CADT_MIRROR_MEMORY_LIMIT": value})
    _one_sentence(proc, "CADT_MIRROR_MEMORY_LIMIT", "384MB", "2GB", "50%")


@pytest.mark.parametrize(("value", "duckdb_says"), [("384MB", "366.2 MiB"), ("2GB", "1.8 GiB"),
                                                    ("1.5GiB", "1.5 GiB")])
def test_cadt_mirror_memory_limit_takes_duckdb_sizes(db_path, monkeypatch, value, duckdb_says):
    monkeypatch.setenv("CADT_MIRROR_MEMORY_LIMIT", value)
    con = connect(db_path)
    try:
        assert con.execute("SELECT current_setting('memory_limit')").fetchall() == [(duckdb_says,)]
    finally:
        con.close()


def test_cadt_mirror_memory_limit_takes_a_share_of_ram(db_path, monkeypatch):
    monkeypatch.setenv("CADT_MIRROR_MEMORY_LIMIT", "50%")
    connect(db_path).close()


@pytest.mark.parametrize(("args", "needles"), [
    (("--concurrency", "abc"), ("--concurrency", "'abc'", "from 1 to 16")),
    (("--concurrency", "0"), ("--concurrency", "'0'", "from 1 to 16")),
    (("--retries", "-1"), ("--retries", "'-1'", "at least 0")),
    (("--retries", "many"), ("--retries", "'many'", "at least 0")),
    (("--api-url", "observer"), ("--api-url", "'observer'", "http(s) URL")),
])
def test_concurrency_retries_and_url_arguments_are_checked_like_the_settings(db_path, args,
                                                                             needles):
    _one_sentence(_refused(db_path, {}, *args), *needles)


@pytest.mark.parametrize("value", ["0", "-1", "soon"])
def test_cadt_verify_every_hours_must_be_a_positive_number(db_path, value):
    proc = _refused(db_path, {"CADT_VERIFY_EVERY_HOURS": value})
    _one_sentence(proc, "CADT_VERIFY_EVERY_HOURS", repr(value), "greater than 0")


def test_cadt_verify_every_hours_sets_how_often_the_tail_check_runs_by_itself(sim, settings):
    assert run_sync(settings).status == "success"
    args = ("--api-url", settings.api_url, "--database", str(settings.database))
    sim.reset_stats()
    assert _sync(*args).returncode == 0  # checked minutes ago: nothing is due
    assert sim.stats()["by_route"].get("/v1/audit", 0) == 0
    assert _sync(*args, env={"CADT_VERIFY_EVERY_HOURS": "0.0001"}).returncode == 0
    assert sim.stats()["by_route"]["/v1/audit"] == len(sim.truth("organizations"))


def test_sync_verify_checks_every_organizations_audit_tail_now(sim, settings):
    assert run_sync(settings).status == "success"
    sim.reset_stats()
    proc = _sync("--verify", "--api-url", settings.api_url, "--database", str(settings.database))
    assert proc.returncode == 0, proc.stderr
    assert sim.stats()["by_route"]["/v1/audit"] == len(sim.truth("organizations"))


def test_cadt_mirror_sync_v_is_accepted_as_the_readme_lists_it(tmp_path):
    for args in (("sync", "-v"), ("-v", "sync")):
        proc = run_cli(*args, "--database", str(tmp_path), timeout=60)
        assert proc.returncode == 2 and "unrecognized" not in proc.stderr
        _one_sentence(proc, "is a directory")


def test_a_mistyped_org_is_an_error_listing_the_known_ones(sim, settings):
    proc = _sync("--org", "not-an-org", "--api-url", settings.api_url, "--database",
                 str(settings.database))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    line = _one_sentence(proc, "--org not-an-org", "known organizations")
    for org in sim.truth("organizations"):
        assert f"{org['name']} ({org['orgUid']})" in line


# -- database paths ---------------------------------------------------------------------------


def test_a_database_path_that_is_a_directory_gets_one_sentence(tmp_path):
    proc = _sync("--database", str(tmp_path))
    assert proc.returncode == 2
    _one_sentence(proc, str(tmp_path), "is a directory")


def _read_only_dir(tmp_path: Path) -> Path:
    """A directory we cannot write to (as root, chmod does not stop us: then /sys)."""
    place = tmp_path / "locked"
    place.mkdir()
    place.chmod(0o555)
    for candidate in (place, Path("/sys")):
        try:
            (candidate / "probe").touch()
        except OSError:
            return candidate
        (candidate / "probe").unlink()
    pytest.skip("no read-only place on this machine")


def test_a_database_in_a_read_only_place_gets_one_sentence(tmp_path):
    where = _read_only_dir(tmp_path)
    for db in (where / "cadt.duckdb", where / "sub" / "cadt.duckdb"):
        proc = _sync("--database", str(db))
        assert proc.returncode == 2
        _one_sentence(proc, str(where))


def test_a_database_file_that_is_not_duckdb_gets_one_sentence(tmp_path):
    db = tmp_path / "notes.duckdb"
    db.write_text("not a database\n")
    for command in ("sync", "status", "build"):
        proc = run_cli(command, "--database", str(db), timeout=60)
        assert proc.returncode == 2, (command, proc.stderr)
        _one_sentence(proc, str(db), "is not a DuckDB database file")
    assert db.read_text() == "not a database\n"


def test_a_duckdb_file_that_is_not_a_mirror_gets_one_sentence_and_is_left_alone(tmp_path):
    db = tmp_path / "analytics.duckdb"
    digest = _marker_file(db)
    for command in ("sync", "status", "build"):
        proc = run_cli(command, "--database", str(db), timeout=60)
        assert proc.returncode == 2, (command, proc.stderr)
        _one_sentence(proc, str(db), "not a CADT Mirror warehouse")
    assert _sha(db) == digest
