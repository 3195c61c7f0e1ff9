"""`cadt-mirror changes` and pipelines/changes.py: the change log as users read it."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import duckdb
import pytest

from pipelines.changes import ChangesError, list_changes, parse_since, prune
from pipelines.cli import main
from pipelines.source.catalog import FieldType
from pipelines.source.catalog_v1 import V1
from pipelines.sync import run_sync
from pipelines.warehouse.schema import ensure_schema
from tests.support.cli import run_cli
from tests.support.truth import diff, truth_rows

NOT_PER_RECORD = ("organizations", "pick_lists")  # change on every commit / not in the truth
NODE_LOCAL = V1.node_stamped | V1.kept_if_absent
PLAIN = {t.name: {f.column for f in t.fields if f.api_name not in NODE_LOCAL
                  and f.type in (FieldType.TEXT, FieldType.BIGINT)} for t in V1.tables}


def _truth(sim) -> dict[tuple[str, str], dict]:
    out = {}
    for table in V1.current_state:
        n = len(table.primary_key)
        names = [f.column for f in table.fields]
        for row in truth_rows(sim, table):
            key = row[0] if n == 1 else "\x1f".join(map(str, row[:n]))
            out[(table.name, key)] = dict(zip(names, row, strict=True))
    return out


def _columns_changed(table: str, before: dict, after: dict) -> set[str]:
    local = {f.column for f in V1.table(table).fields if f.api_name in NODE_LOCAL}
    return {c for c in before if before[c] != after[c] and c not in local}


def test_changes_since_the_previous_sync_lists_exactly_the_records_that_changed(sim, settings):
    previous = run_sync(settings)
    assert previous.status == "success"
    seen_ops = set()
    for round_ in range(3):
        before = _truth(sim)
        sim.random_activity(rng_seed=300 + round_, rounds=3)
        for kind in ("retire", "split", "delete_units", "edit_projects", "remove_children"):
            sim.activity(kind, count=2)
        after = _truth(sim)
        report = run_sync(settings)
        assert report.status == "success", report.error
        assert diff(sim, settings.database) == {}

        proc = run_cli("changes", "--since", previous.sync_id, "--format", "jsonl",
                       "--database", str(settings.database))
        assert proc.returncode == 0, proc.stderr
        rows = [json.loads(line) for line in proc.stdout.splitlines()]
        assert rows and {r["sync_id"] for r in rows} == {report.sync_id}
        rows = [r for r in rows if r["table_name"] not in NOT_PER_RECORD]
        got = {(r["table_name"], r["record_key"]): r["op"] for r in rows}
        assert len(got) == len(rows), "a record listed twice"
        want = {}
        for key in before.keys() | after.keys():
            if key not in before:
                want[key] = "insert"
            elif key not in after:
                want[key] = "delete"
            elif before[key] != after[key]:
                want[key] = "update"
        assert got == want
        for r in rows:  # before and after: the columns that changed, with their values
            table, key = r["table_name"], r["record_key"]
            if r["op"] == "update":
                assert set(r["changed"]) - {"_extra"} >= _columns_changed(
                    table, before[(table, key)], after[(table, key)])
                for column, (old, new) in r["changed"].items():
                    if column in PLAIN[table]:  # text and numbers: as the truth has them
                        assert (before[(table, key)][column], after[(table, key)][column]) == \
                            (old, new), (table, key, column)
            elif r["op"] == "delete":
                assert r["changed"]["unit_count" if table == "units" else "org_uid"] == \
                    before[(table, key)]["unit_count" if table == "units" else "org_uid"]
            else:
                assert r["changed"] is None
        seen_ops |= set(got.values())
        previous = report
    assert seen_ops == {"insert", "update", "delete"}


@pytest.fixture
def log_db(tmp_path):
    """A warehouse with a change log of two syncs, written by hand."""
    path = tmp_path / "cadt.duckdb"
    con = duckdb.connect(str(path))
    ensure_schema(con, V1)
    t1, t2 = datetime(2025, 1, 3, 10, tzinfo=UTC), datetime(2025, 1, 7, 9, tzinfo=UTC)
    con.execute("INSERT INTO cadt_mirror.sync_runs (sync_id, started_at, status) VALUES "
                "('20250103T100000Z-00000001', ?, 'success'), "
                "('20250107T090000Z-00000002', ?, 'success')", [t1, t2])
    rows = [
        ("20250103T100000Z-00000001", "o1", "units", None, "snapshot", '{"rows": 3}', t1),
        ("20250107T090000Z-00000002", "o1", "units", "u1", "update",
         json.dumps({"unit_status": ["Held", "Retired"], "unit_status_reason":
                     [None, "Retired on behalf of a very long beneficiary name, Ltd."]}), t2),
        ("20250107T090000Z-00000002", "o1", "units", "u2", "delete",
         json.dumps({"warehouse_unit_id": "u2", "unit_count": 5}), t2),
        ("20250107T090000Z-00000002", "o1", "projects", "p" * 70, "insert", None, t2),
        ("20250107T090000Z-00000002", "*", "pick_lists", "unitStatus\x1f3", "insert", None, t2),
    ]
    con.executemany("INSERT INTO cadt_mirror.record_changes VALUES (?, 'v1', ?, ?, ?, ?, ?, ?)",
                    rows)
    con.close()
    return path


def test_since_forms():
    now = datetime(2025, 1, 8, 15, 30, tzinfo=UTC)  # a Wednesday
    assert parse_since("monday", now).time == datetime(2025, 1, 6, tzinfo=UTC)
    assert parse_since("Wed", now).time == datetime(2025, 1, 8, tzinfo=UTC)  # today
    assert parse_since("thursday", now).time == datetime(2025, 1, 2, tzinfo=UTC)
    assert parse_since("7d", now).time == now - timedelta(days=7)
    assert parse_since("24h", now).time == now - timedelta(hours=24)
    assert parse_since("yesterday", now).time == datetime(2025, 1, 7, tzinfo=UTC)
    assert parse_since("2025-01-02", now).time == datetime(2025, 1, 2, tzinfo=UTC)
    assert parse_since("2025-01-02T10:00+02:00", now).time == datetime(2025, 1, 2, 8, tzinfo=UTC)
    assert parse_since("20250107T090000Z-00000002").sync_id == "20250107T090000Z-00000002"
    for bad in ("", "soon", "7 days", "-3d", "2025-13-01"):
        with pytest.raises(ChangesError, match="is not a date or time"):
            parse_since(bad, now)


def test_list_changes_filters_and_sync_ids(log_db):
    con = duckdb.connect(str(log_db), read_only=True)
    try:
        assert len(list_changes(con, "2025-01-01")) == 5
        later = list_changes(con, "20250103T100000Z-00000001", tables=["units"])
        assert [(r["record_key"], r["op"]) for r in later] == [("u1", "update"), ("u2", "delete")]
        assert later[0]["changed"]["unit_status"] == ["Held", "Retired"]
        assert list_changes(con, "20250107T090000Z-00000002") == []  # exclusive
        assert [r["record_key"] for r in list_changes(con, "2025-01-01", ops=["delete"])] == ["u2"]
        assert [r["record_key"] for r in list_changes(
            con, "2025-01-01", columns=["unit_status"])] == ["u1"]
        assert list_changes(con, "2025-01-01", org="o2") == []
        with pytest.raises(ChangesError, match="no sync with that id"):
            list_changes(con, "20250101T000000Z-deadbeef")
        with pytest.raises(ChangesError, match="--table 'unit'"):
            list_changes(con, "7d", tables=["unit"])
    finally:
        con.close()


def test_the_table_fits_80_columns_and_machine_formats_parse(log_db, capsys):
    args = ["changes", "--since", "2025-01-01", "--database", str(log_db)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "5 change(s) since 2025-01-01 00:00 UTC" in out
    assert "unit_status: Held → Retired" in out and "unitStatus/3" in out
    assert "first snapshot of the organization: 3 row(s)" in out
    assert max(len(line) for line in out.splitlines()) <= 80
    assert main([*args, "--limit", "2"]) == 0
    assert "... 3 more" in capsys.readouterr().out

    assert main([*args, "--format", "csv", "--op", "update"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "sync_id,recorded_at,org_uid,table_name,record_key,op,changed"
    import csv
    [row] = list(csv.DictReader(lines))
    assert json.loads(row["changed"])["unit_status"] == ["Held", "Retired"]
    assert row["recorded_at"] == "2025-01-07T09:00:00Z"


@pytest.mark.parametrize(("since", "code", "message"), [
    ("next week", 2, "--since 'next week' is not a date or time"),
    ("20250101T000000Z-deadbeef", 2, "no sync with that id"),
])
def test_errors_are_one_sentence(log_db, capsys, since, code, message):
    assert main(["changes", "--since", since, "--database", str(log_db)]) == code
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_no_warehouse_yet(tmp_path, capsys):
    assert main(["changes", "--since", "7d", "--database", str(tmp_path / "none.duckdb")]) == 1
    assert "no warehouse at" in capsys.readouterr().err


def test_prune_keeps_the_retention(log_db):
    con = duckdb.connect(str(log_db))
    try:
        now = datetime.now(UTC)
        con.execute("UPDATE cadt_mirror.record_changes SET recorded_at = ? WHERE op = 'delete'",
                    [now - timedelta(days=10)])
        con.execute("UPDATE cadt_mirror.record_changes SET recorded_at = ? WHERE op = 'update'",
                    [now - timedelta(hours=1)])
        assert prune(con, 90) == 3  # the 2025 rows
        assert prune(con, 7) == 1
        assert prune(con, 0.5) == 0
        assert prune(con, 0) == 1
        for bad in (-1, float("nan"), "90", True):
            with pytest.raises(ValueError, match="keep_days"):
                prune(con, bad)
    finally:
        con.close()
