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

Nothing in this story breaks a data-quality rule (P3's unit U5 and the issuance-less U3 are
only "no current project"). `build_warehouse(path, quality_cases=True)` adds records that break
the rules (QUALITY_* below; QUALITY_UNIT_RULES says which unit breaks which):

- PQ1 (o1 "Registry One", no currentRegistry or registryOfOrigin: registry from the
  organization), "Ñandú Reforestación" in Peru, issuance IQ.
- PQ2 (o9, an organization the node does not list; currentRegistry "unknown", registryOfOrigin
  "-", developer "n.a.", program "N/A"): no registry at all, placeholders.
- UQ1 retired in generation 4 (2024) with vintage 2026; UQ2 Corresponding adjustment "Not
  Required" but "Completed"; UQ3 a 150-credit block for unitCount 100; UQ4 owner "N/A"; UQ5 a
  serial block that does not parse; UQ6 (o9) has no issuance: no project, no registry; UQ7 is
  clean, with only a serialNumberBlock ("GS-2002-C1-GS-2002-C300") to read its serials from.
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


O9 = "o9" + "0" * 62
QUALITY_PROJECTS = [
    dict(
        warehouse_project_id="PQ1",
        org_uid=O1,
        project_id="PQ-1",
        origin_project_id="9001",
        project_name="Ñandú Reforestación",
        project_developer="Andes Forests S.A.",
        sector="Agriculture; forestry and fishing",
        covered_by_ndc="Unknown",
    ),
    dict(
        warehouse_project_id="PQ2",
        org_uid=O9,
        current_registry="unknown",
        registry_of_origin="-",
        project_id="PQ-2",
        origin_project_id="9002",
        project_name="Mystery Project",
        project_developer="n.a.",
        program="N/A",
        methodology="tbd",
    ),
]
QUALITY_LOCATIONS = [dict(id="LQ1", warehouse_project_id="PQ1", org_uid=O1, country="Perú")]
QUALITY_ISSUANCES = [
    dict(id="IQ", org_uid=O1, warehouse_project_id="PQ1", start_date="2026-01-01",
         end_date="2026-12-31"),
]
QUALITY_UNITS = [
    _unit("UQ1", O1, "IQ", 10, "Retired", "Q-1", "Q-10", vintage=2026),
    _unit("UQ2", O1, "IQ", 10, "Held", "Q-11", "Q-20",
          corresponding_adjustment_declaration="Not Required",
          corresponding_adjustment_status="Completed"),
    _unit("UQ3", O1, "IQ", 100, "Held", "Q-21", "Q-170"),
    _unit("UQ4", O1, "IQ", 10, "Held", "Q-171", "Q-180", unit_owner="N/A"),
    _unit("UQ5", O1, "IQ", 10, "Held", "see registry", "see registry"),
    _unit("UQ6", O9, None, 10, "Held", "Z-1", "Z-10"),
    # only serialNumberBlock, letters before the numbers (as in a real node's capture): clean
    _unit("UQ7", O1, "IQ", 300, "Held", "GS-2002-C1", "GS-2002-C300",
          unit_block_start=None, unit_block_end=None),
]
# o1's quality units have history (created in gen 1), so only UQ1's date is "before vintage"
QUALITY_AUDIT = [
    *[(1, "INSERT", "unit", _change(u["warehouse_unit_id"], u["unit_count"], "Held",
                                    issuance="IQ", vintage=u["vintage_year"]))
      for u in QUALITY_UNITS if u["org_uid"] == O1],
    (4, "INSERT", "unit", _change("UQ1", 10, "Retired", issuance="IQ", vintage=2026)),
]
# unit id -> the rules it breaks (and no other)
QUALITY_UNIT_RULES = {
    "UQ1": {"retired_before_vintage"},
    "UQ2": {"contradictory_corresponding_adjustment"},
    "UQ3": {"serial_count_mismatch"},
    "UQ4": {"placeholder_value"},
    "UQ5": {"serial_block_unparsed"},
    "UQ6": {"registry_unknown", "no_current_project"},
    "UQ7": set(),
}
# project id -> the rules it breaks
QUALITY_PROJECT_RULES = {
    "PQ1": {"registry_inferred"},
    "PQ2": {"registry_unknown", "placeholder_value"},
}


def _insert(con: duckdb.DuckDBPyConnection, table: str, rows: list[dict]) -> None:
    for row in rows:
        row = {**row, "_source": "api", "_synced_at": "2024-05-01 00:00:00+00", "_sync_id": "t"}
        cols = ", ".join(f'"{c}"' for c in row)
        marks = ", ".join("?" for _ in row)
        con.execute(f"INSERT INTO cadt_v1.{table} ({cols}) VALUES ({marks})", list(row.values()))


def build_warehouse(path: Path, *, quality_cases: bool = False) -> Path:
    """Write the story above into a new DuckDB file at `path` (with `quality_cases`, plus one
    record breaking each data-quality rule)."""
    extra = quality_cases
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
        _insert(con, "projects", PROJECTS + (QUALITY_PROJECTS if extra else []))
        _insert(con, "project_locations", LOCATIONS + (QUALITY_LOCATIONS if extra else []))
        _insert(con, "issuances", ISSUANCES + (QUALITY_ISSUANCES if extra else []))
        _insert(con, "labels", LABELS)
        _insert(con, "units", UNITS + (QUALITY_UNITS if extra else []))
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
                for i, (gen, kind, table, change) in enumerate(
                    AUDIT + (QUALITY_AUDIT if extra else [])
                )
            ],
        )
    finally:
        con.close()
    return path
