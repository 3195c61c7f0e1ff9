"""`cadt_mirror.marts_builds`: what changed since the last build, and when a build would only
repeat it (nothing synced since, the same dbt project, the same arguments), so that
`cadt-mirror build` skips dbt. Real DuckDB file."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipelines.transform.fingerprint import project_digest
from pipelines.warehouse import builds
from pipelines.warehouse.schema import MIRROR_SCHEMA

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
SCHEMAS = {"v1": "cadt_v1"}


@pytest.fixture
def con(tmp_path):
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    con.execute(f"CREATE SCHEMA {MIRROR_SCHEMA}")
    con.execute(f"CREATE TABLE {MIRROR_SCHEMA}.sync_changes (sync_id VARCHAR, "
                "catalog_version VARCHAR, table_name VARCHAR, inserted BIGINT, updated BIGINT, "
                "deleted BIGINT, recorded_at TIMESTAMPTZ)")
    _changed(con, T0 - timedelta(hours=1))
    con.execute("CREATE SCHEMA cadt_v1")
    for table in ("units", "projects", "labels"):
        con.execute(f"CREATE TABLE cadt_v1.{table} (id VARCHAR, _synced_at TIMESTAMPTZ)")
        con.execute(f"INSERT INTO cadt_v1.{table} VALUES ('a', ?)", [T0 - timedelta(hours=1)])
    yield con
    con.close()


def _changed(con, at, table="units", inserted=1, deleted=0):
    con.execute(f"INSERT INTO {MIRROR_SCHEMA}.sync_changes VALUES ('s', 'v1', ?, ?, 0, ?, ?)",
                [table, inserted, deleted, at])


def _record(con, started, args=("build",), digest="d1", ok=True, selection=None):
    builds.record_build(con, invocation_id=f"inv-{started:%H%M}", started_at=started,
                        finished_at=started + timedelta(minutes=1), ok=ok, selection=selection,
                        dbt_args=list(args), gens={"org": 1}, project_digest=digest)


def _repeated(con, args=("build",), digest="d1") -> builds.MartsBuild | None:
    """The build a build with `args` would only repeat (`since_last_build`, nothing written)."""
    last = builds.since_last_build(con, list(args), digest, SCHEMAS)
    return last[0] if last is not None and not last[1] else None


def test_a_build_over_the_same_raw_tables_and_project_is_the_last_one(con):
    _record(con, T0, args=("build", "--full-refresh"))
    assert _repeated(con).invocation_id == "inv-1000"
    _record(con, T0 + timedelta(minutes=5), selection="--select x",
            args=("build", "--select", "x"))  # a selected build in between changes nothing
    assert _repeated(con).invocation_id == "inv-1000"


@pytest.mark.parametrize("case", ["project changed", "other arguments", "synced since",
                                  "failed since", "older record"])
def test_anything_new_means_dbt_runs(con, case):
    _record(con, T0)
    digest, args = "d1", ["build"]
    if case == "project changed":
        digest = "d2"
    elif case == "other arguments":
        args = ["build", "--vars", "{x: 1}"]
    elif case == "synced since":
        _changed(con, T0 + timedelta(seconds=1))
    elif case == "failed since":
        _record(con, T0 + timedelta(minutes=5), ok=False)
    else:  # a build recorded before builds had a digest
        con.execute(f"UPDATE {builds.BUILDS} SET project_digest = NULL")
    assert _repeated(con, args, digest) is None


def test_a_warehouse_from_before_the_digest_gains_the_column(con):
    con.execute(f"CREATE TABLE {builds.BUILDS} (invocation_id VARCHAR, started_at TIMESTAMPTZ, "
                "finished_at TIMESTAMPTZ, status VARCHAR, selection VARCHAR, dbt_args VARCHAR, "
                "generations JSON)")
    con.execute(f"INSERT INTO {builds.BUILDS} VALUES ('old', ?, ?, 'success', NULL, "
                "'[\"build\"]', '{}')", [T0, T0])
    assert _repeated(con) is None  # no digest: not known unchanged
    _record(con, T0 + timedelta(minutes=1))
    assert _repeated(con).invocation_id == "inv-1001"


def test_what_changed_since_the_last_build_includes_rows_rewritten_as_they_were(con):
    """A raw table counts as changed when a row in it was written since the build (even with
    the same values: its `_source` may differ) or the change counts name a delete in it."""
    _record(con, T0)
    assert builds.since_last_build(con, ["build"], "d1", SCHEMAS)[1] == set()
    assert builds.since_last_build(con, ["build"], "d2", SCHEMAS) is None
    con.execute("INSERT INTO cadt_v1.units VALUES ('b', ?)", [T0 + timedelta(minutes=2)])
    _changed(con, T0 + timedelta(minutes=2), table="labels", inserted=0, deleted=1)
    assert builds.since_last_build(con, ["build"], "d1", SCHEMAS)[1] == {
        ("cadt_v1", "units"), ("cadt_v1", "labels")}


def test_the_digest_follows_the_project_files(tmp_path):
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.sql"
    model.write_text("select 1")
    (tmp_path / "target").mkdir()
    first = project_digest(tmp_path)
    (tmp_path / "target" / "manifest.json").write_text("{}")  # dbt's output: not the project
    assert project_digest(tmp_path) == first
    model.write_text("select 2")
    assert project_digest(tmp_path) != first
