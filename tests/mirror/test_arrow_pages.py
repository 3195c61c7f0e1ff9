"""The strict Arrow page reader: what it takes, what it hands to the general path, and that both
paths stage exactly the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipelines.source.arrow_pages import parse_page
from pipelines.source.catalog import FieldType
from pipelines.source.catalog_v1 import V1
from pipelines.warehouse import landing

SAMPLES = Path(__file__).parents[1] / "sim" / "samples"
CAPTURED = [("projects", "62-final-projects.json"), ("units", "62-final-units.json"),
            ("audit", "62-final-audit-all.json"), ("audit", "42-audit-page1.json")]


def _compact(name: str) -> bytes:
    return json.dumps(json.loads((SAMPLES / name).read_text()), separators=(",", ":")).encode()


@pytest.mark.parametrize(("table", "name"), CAPTURED)
@pytest.mark.parametrize("layout", ["as captured", "compact"])
def test_reads_captured_pages_with_every_record(table, name, layout):
    body = (SAMPLES / name).read_bytes() if layout == "as captured" else _compact(name)
    page = json.loads(body)
    parsed = parse_page(body, V1, V1.table(table))
    assert parsed is not None
    records, page_count = parsed
    assert page_count == page["pageCount"] and len(records) == len(page["data"])
    pk = V1.table(table).primary_key[0]
    assert records.field(pk).to_pylist() == [r[pk] for r in page["data"]]


UNIT = {"warehouseUnitId": "u1", "unitCount": 5, "labels": [{"id": "l1"}], "issuance": None}


@pytest.mark.parametrize(("why", "body"), [
    ("unknown field", {"page": 1, "pageCount": 1, "data": [{**UNIT, "newField": 1}]}),
    ("unknown nested field", {"page": 1, "pageCount": 1,
                              "data": [{**UNIT, "labels": [{"id": "l1", "x": 1}]}]}),
    ("number for text", {"page": 1, "pageCount": 1, "data": [{**UNIT, "warehouseUnitId": 7}]}),
    ("text for number", {"page": 1, "pageCount": 1, "data": [{**UNIT, "unitCount": "five"}]}),
    ("fraction for an integer", {"page": 1, "pageCount": 1, "data": [{**UNIT, "unitCount": 1.5}]}),
    ("object for a list", {"page": 1, "pageCount": 1, "data": [{**UNIT, "labels": {"id": "l"}}]}),
    ("entry not an object", {"page": 1, "pageCount": 1, "data": [UNIT, 42]}),
    ("no pageCount", {"page": 1, "pageCount": None, "data": [UNIT]}),
    ("data not a list", {"page": 1, "pageCount": 1, "data": UNIT}),
    ("not an envelope", [UNIT]),
])
def test_hands_irregular_pages_to_the_general_path(why, body):
    assert parse_page(json.dumps(body).encode(), V1, V1.table("units")) is None, why


def test_hands_broken_or_repeated_documents_to_the_general_path():
    one = json.dumps({"page": 1, "pageCount": 1, "data": [UNIT]})
    units = V1.table("units")
    assert parse_page(one.encode(), V1, units) is not None
    assert parse_page((one + "\n" + one).encode(), V1, units) is None
    assert parse_page(one[:-3].encode(), V1, units) is None


def _staged(con: duckdb.DuckDBPyConnection, batch: str) -> dict[str, list[tuple]]:
    out = {}
    for t in V1.tables:
        out[t.name] = con.execute(
            f"SELECT * EXCLUDE (_ref, _batch) FROM {landing.staging_name(V1, t)} "
            "WHERE _batch = ? ORDER BY ALL", [batch]).fetchall()
    return out


def test_both_paths_stage_identical_rows(staging_con):
    con = staging_con
    for table, name in CAPTURED:
        body = (SAMPLES / name).read_bytes()
        records, _ = parse_page(body, V1, V1.table(table))
        landing.stage_pages(con, V1, V1.table(table), [records], landing.LandContext("arrow"))
        landing.stage_pages(con, V1, V1.table(table), [json.loads(body)["data"]],
                            landing.LandContext("dicts"))
    arrow, dicts = _staged(con, "arrow"), _staged(con, "dicts")
    assert sum(len(rows) for rows in arrow.values()) > 150
    for name in arrow:
        assert arrow[name] == dicts[name], name


def test_a_batch_may_mix_both_forms(staging_con):
    con = staging_con
    units = V1.table("units")
    body = (SAMPLES / "62-final-units.json").read_bytes()
    records, _ = parse_page(body, V1, units)
    hostile = [{"warehouseUnitId": "zz-hostile", "unitCount": "five", "surprise": "'; DROP"}]
    n = landing.stage_pages(con, V1, units, [records, hostile], landing.LandContext("b"))
    assert n == len(records) + 1
    stg = landing.staging_name(V1, units)
    assert con.execute(f"SELECT count(*) FROM {stg}").fetchall()[0][0] == n
    issues, extra = con.execute(
        f"SELECT _issues, _extra FROM {stg} WHERE warehouse_unit_id = 'zz-hostile'").fetchall()[0]
    assert issues == ["unitCount: cannot read five as BIGINT"]
    assert json.loads(extra) == {"surprise": "'; DROP"}


@pytest.mark.parametrize(("field_type", "values"), [
    (FieldType.TIMESTAMP, ["2023-01-07T00:12:01.463Z", "2023-01-07T00:12:01.463+05:30",
                           "0001-01-01T00:00:00Z", "9999-12-31T23:59:59Z", None]),
    (FieldType.UNIX_SECONDS, ["1672791120", "1672791120.25", "0", "1e3", None]),
])
def test_times_typed_in_arrow_equal_the_sql_reading(field_type, values):
    """Times Arrow types itself must read exactly as the SQL conversion would read them."""
    arrow = landing._as_time(pa.array(values, pa.string()), field_type)
    assert arrow is not None
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    read = f"SELECT {landing._typed(field_type, 'v')} FROM (SELECT ?::VARCHAR AS v)"
    sql = [con.execute(read, [v]).fetchall()[0][0] for v in values]
    con.register("a", pa.table({"t": arrow}))
    assert [r[0] for r in con.execute("SELECT t FROM a").fetchall()] == sql


@pytest.mark.parametrize(("field_type", "value"), [
    (FieldType.TIMESTAMP, "2023-01-07"), (FieldType.TIMESTAMP, " 2023-01-07T00:00:00Z"),
    (FieldType.TIMESTAMP, "2023-01-07 00:12:01.463 +0000"), (FieldType.TIMESTAMP, ""),
    (FieldType.UNIX_SECONDS, "-1"), (FieldType.UNIX_SECONDS, "nan"),
    (FieldType.UNIX_SECONDS, " 5"), (FieldType.UNIX_SECONDS, "soon"),
])
def test_other_time_spellings_are_left_to_sql(field_type, value):
    assert landing._as_time(pa.array([value, None], pa.string()), field_type) is None
