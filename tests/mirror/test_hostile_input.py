"""Bad input is landed or quarantined with a reason; never crashes, never runs as SQL.

These tests feed hand-written pages straight into the real landing and merge SQL (real DuckDB),
covering cases the simulator's `malformed` fault draws only at random.
"""

from __future__ import annotations

import json

import duckdb

from pipelines.source.catalog_v1 import V1
from pipelines.warehouse import landing
from pipelines.warehouse.merge import apply_batch, quarantine_batch

UNIT = {
    "warehouseUnitId": "00000000-0000-4000-8000-000000000001", "issuanceId": None,
    "projectLocationId": None, "orgUid": "org1", "unitOwner": "Owner", "unitCount": 500,
    "vintageYear": 2021, "unitStatus": "Retired", "timeStaged": "1646975765",
    "createdAt": "2022-03-13T05:29:39.647Z", "updatedAt": "2024-08-20T22:19:54.170Z",
    "labels": [], "issuance": None,
}
SQLISH = "'); DROP TABLE cadt_v1.units; --"


def _land(con, records: list, table: str = "units") -> None:
    records = json.loads(json.dumps(records))  # what the client's JSON parser would hand over
    landing.stage_pages(con, V1, V1.table(table), [records], landing.LandContext("b"))
    con.execute("BEGIN")
    apply_batch(con, V1, V1.table(table), "b", "sync1", scope="TRUE")
    for child in ("labels", "issuances", "unit_labels"):
        apply_batch(con, V1, V1.table(child), "b", "sync1")
    quarantine_batch(con, V1, "b", "sync1", "org1")
    con.execute("COMMIT")


def _unit(**overrides: object) -> dict:
    u = dict(UNIT)
    u.update(overrides)
    return u


def _quarantine(con) -> list[tuple]:
    return con.execute("SELECT table_name, record_key, reason, raw FROM cadt_mirror.quarantine"
                       ).fetchall()


def test_sql_looking_strings_and_unicode_are_stored_literally(staging_con):
    weird = "💥 Ω \u202e RTL \t tab \\ backslash \" quote"
    _land(staging_con, [_unit(unitOwner=SQLISH, unitStatusReason=weird)])
    owner, reason = staging_con.execute("SELECT unit_owner, unit_status_reason FROM cadt_v1.units"
                                ).fetchall()[0]
    assert owner == SQLISH and reason == weird
    assert staging_con.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] == 1
    assert _quarantine(staging_con) == []


def test_sql_looking_primary_key_is_just_a_key(staging_con):
    _land(staging_con, [_unit(warehouseUnitId=SQLISH)])
    assert staging_con.execute("SELECT warehouse_unit_id FROM cadt_v1.units").fetchall() == [(SQLISH,)]


def test_huge_field_is_kept_whole(staging_con):
    big = "x" * 2_000_000
    _land(staging_con, [_unit(unitRegistryLink=big)])
    n = staging_con.execute("SELECT length(unit_registry_link) FROM cadt_v1.units").fetchall()[0][0]
    assert n == len(big)


def test_wrong_types_land_as_null_and_are_quarantined_with_the_raw_record(staging_con):
    _land(staging_con, [_unit(unitCount="five hundred", vintageYear={"y": 2021},
                      createdAt="yesterday", timeStaged="soon")])
    row = staging_con.execute("SELECT unit_count, vintage_year, created_at, time_staged, unit_owner "
                      "FROM cadt_v1.units").fetchall()[0]
    assert row == (None, None, None, None, "Owner")
    ((table, key, reason, raw),) = _quarantine(staging_con)
    assert table == "units" and key == UNIT["warehouseUnitId"]
    for field in ("unitCount", "vintageYear", "createdAt", "timeStaged"):
        assert field in reason
    assert json.loads(raw)["unitCount"] == "five hundred"


def test_numbers_sent_as_strings_and_strings_sent_as_numbers_are_read(staging_con):
    _land(staging_con, [_unit(unitCount="500", vintageYear="2021", unitOwner=12345)])
    assert staging_con.execute("SELECT unit_count, vintage_year, unit_owner FROM cadt_v1.units"
                       ).fetchall() == [(500, 2021, "12345")]
    assert _quarantine(staging_con) == []


def test_missing_primary_key_and_non_objects_are_quarantined_not_landed(staging_con):
    no_key = _unit()
    del no_key["warehouseUnitId"]
    _land(staging_con, [no_key, "just a string", 42, None, _unit()])
    assert staging_con.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] == 1
    reasons = sorted(r[2] for r in _quarantine(staging_con))
    assert reasons == ["missing primary key warehouseUnitId", "not a JSON object",
                       "not a JSON object"]


def test_missing_keys_are_null_and_unknown_fields_kept_in_extra(staging_con):
    partial = {"warehouseUnitId": "u-1", "orgUid": "org1", "brandNewField": {"a": [1, 2]},
               "anotherOne": "x"}
    _land(staging_con, [partial])
    owner, extra = staging_con.execute("SELECT unit_owner, _extra FROM cadt_v1.units").fetchall()[0]
    assert owner is None
    assert json.loads(extra) == {"brandNewField": {"a": [1, 2]}, "anotherOne": "x"}


def test_nested_children_of_wrong_shape_do_not_crash(staging_con):
    _land(staging_con, [_unit(labels="not a list", issuance=["not", "an", "object"]),
                _unit(warehouseUnitId="u-2", labels=[{"id": "l1", "label": "ok",
                                                       "label_unit": "bad"}])])
    assert staging_con.execute("SELECT count(*) FROM cadt_v1.units").fetchall()[0][0] == 2
    assert staging_con.execute("SELECT id FROM cadt_v1.labels").fetchall() == [("l1",)]
    assert staging_con.execute("SELECT count(*) FROM cadt_v1.unit_labels").fetchall()[0][0] == 0


def test_unknown_audit_tables_are_quarantined_with_a_reason(sim, settings):
    """A feed naming a table the catalogue does not know: kept in audit, reported, not applied."""
    from pipelines.sync import run_sync

    assert run_sync(settings).status == "success"
    org = sim.truth("organizations")[0]["orgUid"]
    # A key prefix no CADT version has: commit it straight into the simulator's DataLayer.
    sim.ledger.commit(sim.ledger.orgs[org], [("carbonWidgets", "w-1", {"id": "w-1", "x": SQLISH})])
    report = run_sync(settings)
    assert report.status == "success", report.error
    (o,) = [o for o in report.orgs if o.org_uid == org]
    assert o.unknown_audit_tables == ["carbonWidgets"]
    c = duckdb.connect(str(settings.database), read_only=True)
    reasons = [r[0] for r in c.execute("SELECT reason FROM cadt_mirror.quarantine").fetchall()]
    n_audit = c.execute("SELECT count(*) FROM cadt_v1.audit WHERE \"table\" = 'carbonWidgets'"
                        ).fetchall()[0][0]
    assert "unknown audit table carbonWidgets: change not applied" in reasons
    assert n_audit == 1
