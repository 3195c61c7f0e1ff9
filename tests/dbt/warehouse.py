"""A small, hand-written CADT v1 warehouse covering every counting rule.

Built with the real DDL (`ensure_schema`) and plain INSERTs, so the dbt tests do not depend on
the sync. The story (org o1 publishes generations 1-4 in the audit; org o2 has no audit):

- P1 (o1, Verra, origin Verra/1001, "Forest Guard", Brazil), issuance I1 (2020).
  U1: 1000 Held (gen 1), split in gen 2 into U1 (600) + U1b (400); U1b retired in gen 3.
  U2: 100 (vintage 2021) Retired in gen 2, un-retired in gen 3, retired again in gen 4;
      CA Committed, Letter of Authorization label.
  U4: 70 Held (gen 1), deleted in gen 3 (gone from the current state).
- U3: 20 "For Sale", no issuance.
- P3 (o1) was deleted; its issuance I3, its location and its unit U5 (50 Held) stay behind.
- P2 (o2, Gold Standard, origin "VCS"/1001, "Forest  guard", Brazil + "Brasil"), issuance I2
  (2020-06..2021-06), U6 300 Retired with no audit history.
- P4 (o2, Verra, Kenya), issuance I4, U7 100 Held whose serials overlap U1b's.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from pipelines.source.catalog_v1 import V1
from pipelines.warehouse.schema import ensure_schema

O1, O2 = "o1" + "0" * 62, "o2" + "0" * 62
GEN_TIME = {
    1: "2024-01-01 00:00:00+00",
    2: "2024-02-01 00:00:00+00",
    3: "2024-03-01 00:00:00+00",
    4: "2024-04-01 00:00:00+00",
}

PICK_LISTS = {
    "unitStatus": [
        "Held",
        "Retired",
        "Cancelled",
        "Expired",
        "Buffer",
        "Exported",
        "Pending Export",
    ],
    "coveredByNDC": ["Inside NDC", "Outside NDC", "Unknown"],
}


def _unit(uid, org, issuance, count, status, start, end, vintage=2020, **extra):
    row = {
        "warehouse_unit_id": uid,
        "issuance_id": issuance,
        "org_uid": org,
        "unit_owner": "Owner " + uid,
        "country_jurisdiction_of_owner": "Brazil",
        "serial_number_block": f"{start}-{end}",
        "unit_block_start": start,
        "unit_block_end": end,
        "unit_count": count,
        "vintage_year": vintage,
        "unit_type": "Reduction - nature",
        "unit_status": status,
        "corresponding_adjustment_declaration": "Unknown",
        "corresponding_adjustment_status": "Not Started",
        "created_at": "2023-06-01 00:00:00+00",
    }
    row.update(extra)
    return row


PROJECTS = [
    dict(
        warehouse_project_id="P1",
        org_uid=O1,
        current_registry="Verra",
        project_id="VCS1001",
        origin_project_id="1001",
        registry_of_origin="Verra",
        project_name="Forest Guard",
        project_developer="Green Dev Ltd.",
        sector="Agriculture; forestry and fishing",
        project_type="Conservation",
        covered_by_ndc="Inside NDC",
        project_status="Registered",
    ),
    dict(
        warehouse_project_id="P2",
        org_uid=O2,
        current_registry="Gold Standard",
        project_id="GS77",
        origin_project_id="1001",
        registry_of_origin="VCS",
        project_name="Forest  guard",
        project_developer="green dev limited",
        sector="Agriculture; forestry and fishing",
        project_type="Conservation",
        covered_by_ndc="Outside NDC",
        project_status="Registered",
    ),
    dict(
        warehouse_project_id="P4",
        org_uid=O2,
        current_registry="verra",
        project_id="VCS2002",
        origin_project_id="2002",
        registry_of_origin="Verra",
        project_name="Wind Kenya",
        project_developer="Windco",
        sector="Electricity; gas, steam and air conditioning supply",
        project_type="Energy Demand",
        covered_by_ndc="Unknown",
        project_status="Registered",
    ),
]

LOCATIONS = [
    dict(id="L1", warehouse_project_id="P1", org_uid=O1, country="Brazil"),
    dict(id="L2", warehouse_project_id="P2", org_uid=O2, country="Brazil"),
    dict(id="L2b", warehouse_project_id="P2", org_uid=O2, country="Brasil"),
    dict(id="L3", warehouse_project_id="P3", org_uid=O1, country="Peru"),
    dict(id="L4", warehouse_project_id="P4", org_uid=O2, country="Kenya"),
]

ISSUANCES = [
    dict(
        id="I1",
        org_uid=O1,
        warehouse_project_id="P1",
        start_date="2020-01-01",
        end_date="2020-12-31",
    ),
    dict(
        id="I2",
        org_uid=O2,
        warehouse_project_id="P2",
        start_date="2020-06-01",
        end_date="2021-06-30",
    ),
    dict(
        id="I3",
        org_uid=O1,
        warehouse_project_id="P3",
        start_date="2019-01-01",
        end_date="2019-12-31",
    ),
    dict(
        id="I4",
        org_uid=O2,
        warehouse_project_id="P4",
        start_date="2018-01-01",
        end_date="2018-12-31",
    ),
]

LABELS = [
    dict(
        id="LB1",
        warehouse_project_id="P1",
        org_uid=O1,
        label="LoA Brazil",
        label_type="Letter of Authorization",
    ),
]

S = "VCS-1001-2020-"
UNITS = [
    _unit("U1", O1, "I1", 600, "Held", S + "1", S + "600"),
    _unit("U1b", O1, "I1", 400, "Retired", S + "601", S + "1000", unit_status_reason="for ACME"),
    _unit(
        "U2",
        O1,
        "I1",
        100,
        "Retired",
        "VCS-1001-2021-1",
        "VCS-1001-2021-100",
        vintage=2021,
        corresponding_adjustment_declaration="Committed",
        corresponding_adjustment_status="Pending",
    ),
    _unit("U3", O1, None, 20, "For Sale", "X-1", "X-20", vintage=2019),
    _unit("U5", O1, "I3", 50, "Held", "P3-1", "P3-50", vintage=2019),
    _unit(
        "U6", O2, "I2", 300, "retired", "GS-77-1", "GS-77-300", created_at="2023-09-09 00:00:00+00"
    ),
    _unit(
        "U7", O2, "I4", 100, "Held", S + "950", S + "1049", country_jurisdiction_of_owner="Kenya"
    ),
]

UNIT_LABELS = [dict(id="UL1", org_uid=O1, warehouse_unit_id="U2", label_id="LB1")]


def _change(uid, count, status, issuance="I1", vintage=2020, start=None, end=None):
    return {
        "warehouseUnitId": uid,
        "issuanceId": issuance,
        "unitCount": count,
        "unitStatus": status,
        "vintageYear": vintage,
        "unitType": "Reduction - nature",
        "unitBlockStart": start,
        "unitBlockEnd": end,
    }


# (generation, type, table spelling, change)
AUDIT = [
    (1, "INSERT", "project", {"warehouseProjectId": "P1"}),
    (1, "INSERT", "project", {"warehouseProjectId": "P3"}),
    (1, "INSERT", "unit", _change("U1", 1000, "Held", start=S + "1", end=S + "1000")),
    (1, "INSERT", "units", _change("U4", 70, "Held")),
    (1, "INSERT", "unit", _change("U3", 20, "For Sale", issuance=None, vintage=2019)),
    (1, "INSERT", "unit", _change("U5", 50, "Held", issuance="I3", vintage=2019)),
    # gen 2: split U1 (delete + insert of the same key), U2 issued retired
    (2, "DELETE", "unit", _change("U1", 1000, "Held")),
    (2, "INSERT", "unit", _change("U1", 600, "Held")),
    (2, "INSERT", "unit", _change("U1b", 400, "Held")),
    (2, "INSERT", "unit", _change("U2", 100, "Retired", vintage=2021)),
    (2, "INSERT", "label_units", {"id": "UL1", "warehouseUnitId": "U2", "labelId": "LB1"}),
    # gen 3: retire U1b, un-retire U2, delete U4 and project P3 (children stay)
    (3, "DELETE", "unit", _change("U1b", 400, "Held")),
    (3, "INSERT", "unit", _change("U1b", 400, "Retired")),
    (3, "INSERT", "unit", _change("U2", 100, "Held", vintage=2021)),
    (3, "DELETE", "units", _change("U4", 70, "Held")),
    (3, "DELETE", "project", {"warehouseProjectId": "P3"}),
    # gen 4: retire U2 again
    (4, "INSERT", "unit", _change("U2", 100, "Retired", vintage=2021)),
]


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    for row in rows:
        row = {**row, "_source": "api", "_synced_at": "2024-05-01 00:00:00+00", "_sync_id": "t"}
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO cadt_v1.{table} ({cols}) VALUES ({marks})", list(row.values()))


def build_warehouse(path: Path) -> Path:
    """Write the story above into a new DuckDB file at `path`."""
    con = duckdb.connect(str(path))
    try:
        ensure_schema(con, V1)
        _insert(
            con,
            "organizations",
            [
                dict(org_uid=O1, name="Registry One", is_home=False, subscribed=True, synced=True),
                dict(org_uid=O2, name="Registry Two", is_home=False, subscribed=True, synced=True),
            ],
        )
        _insert(
            con,
            "pick_lists",
            [
                dict(list_name=name, position=i, value=v)
                for name, values in PICK_LISTS.items()
                for i, v in enumerate(values)
            ],
        )
        _insert(con, "projects", PROJECTS)
        _insert(con, "project_locations", LOCATIONS)
        _insert(con, "issuances", ISSUANCES)
        _insert(con, "labels", LABELS)
        _insert(con, "units", UNITS)
        _insert(con, "unit_labels", UNIT_LABELS)
        _insert(
            con,
            "audit",
            [
                dict(
                    id=i + 1,
                    org_uid=O1,
                    registry_id="r1",
                    root_hash=f"0x{gen}",
                    type=kind,
                    change=json.dumps(change),
                    table=table,
                    onchain_confirmation_time_stamp=GEN_TIME[gen],
                    generation=gen,
                )
                for i, (gen, kind, table, change) in enumerate(AUDIT)
            ],
        )
    finally:
        con.close()
    return path
