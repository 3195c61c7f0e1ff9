"""The API key reaches the server and nowhere else; concurrent syncs and readers are safe."""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from cadt_sim import Simulator
from pipelines.sync import SyncSettings, run_sync
from pipelines.warehouse.publish import serving_path
from tests.support.cli import run_cli

KEY = "k3y-SECRET-0451-do-not-leak"


@pytest.fixture
def keyed_sim():
    with Simulator(seed=5, scale=1, api_key=KEY) as s:
        yield s




def test_missing_key_fails_with_a_clear_message(keyed_sim, db_path):
    report = run_sync(SyncSettings(api_url=keyed_sim.url, database=db_path, max_retries=1))
    assert report.status == "failed"
    assert "rejected the API key (403" in report.error and "CADT_API_KEY" in report.error


def test_key_is_used_and_appears_nowhere_else(keyed_sim, db_path, caplog):
    caplog.set_level(logging.DEBUG)
    settings = SyncSettings(api_url=keyed_sim.url, api_key=KEY, database=db_path,
                            backoff_base=0.01, max_retries=12)
    keyed_sim.set_faults([{"route": "*", "kind": "5xx", "rate": 0.3},
                          {"route": "*", "kind": "cut", "rate": 0.1}], seed=4)
    report = run_sync(settings)
    assert report.status == "success", report.error  # only possible with the key
    assert report.retries > 0  # errors happened and were logged
    keyed_sim.set_faults([{"route": "/v1/audit", "kind": "5xx", "rate": 1.0}])
    keyed_sim.activity("retire", count=2)
    failed = run_sync(replace(settings, max_retries=1))
    assert failed.status == "partial" and failed.error
    keyed_sim.clear_faults()

    texts = [caplog.text, repr(settings), str(report), str(failed), failed.error or ""]
    proc = run_cli("-v", "sync", "--api-url", keyed_sim.url, "--database", str(db_path),
                env={"CADT_API_KEY": KEY})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    texts += [proc.stdout, proc.stderr]
    for text in texts:
        assert KEY not in text
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        for schema, table, column in con.execute(
            "SELECT table_schema, table_name, column_name FROM information_schema.columns "
            "WHERE data_type IN ('VARCHAR', 'JSON')"
        ).fetchall():
            hits = con.execute(f'SELECT count(*) FROM {schema}."{table}" '
                               f'WHERE contains("{column}"::VARCHAR, ?)', [KEY]).fetchall()[0][0]
            assert hits == 0, (schema, table, column)
    finally:
        con.close()
    for f in (db_path, serving_path(db_path)):
        assert KEY.encode() not in Path(f).read_bytes()


def test_second_sync_refuses_clearly_while_one_runs(sim, settings):
    assert run_sync(settings).status == "success"
    holder = duckdb.connect(str(settings.database))  # this process now holds the write lock
    try:
        proc = run_cli("sync", "--quiet", "--api-url", settings.api_url, "--database",
                    str(settings.database))
    finally:
        holder.close()
    assert proc.returncode == 3
    assert "in use by another process" in proc.stderr
    assert run_sync(settings).status == "success"  # nothing was corrupted


def test_readers_of_the_serving_copy_neither_block_nor_see_half_a_sync(sim, settings):
    assert run_sync(settings).status == "success"
    serving = serving_path(settings.database)
    reader = duckdb.connect(str(serving), read_only=True)
    try:
        before = reader.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0]
        sim.activity("issue_units", count=5)
        proc = run_cli("sync", "--quiet", "--api-url", settings.api_url, "--database",
                    str(settings.database))
        assert proc.returncode == 0, proc.stdout + proc.stderr  # not blocked by the reader
        assert reader.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] == before
    finally:
        reader.close()
    fresh = duckdb.connect(str(serving), read_only=True)
    try:
        assert fresh.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] > before
    finally:
        fresh.close()


def test_status_reads_the_serving_copy_while_a_sync_holds_the_warehouse(sim, settings):
    assert run_sync(settings).status == "success"
    holder = duckdb.connect(str(settings.database))
    try:
        proc = run_cli("status", "--database", str(settings.database))
    finally:
        holder.close()
    assert proc.returncode == 0, proc.stderr
    assert "showing the serving copy" in proc.stdout
    assert sim.truth("organizations")[0]["name"][:15] in proc.stdout
