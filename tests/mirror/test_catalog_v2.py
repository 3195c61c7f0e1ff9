"""The v2 catalogue is CAD Trust's data dictionary, corrected where the cadt code differs."""

from __future__ import annotations

import duckdb

from pipelines.source.catalog_v2 import DICTIONARY, V2
from pipelines.warehouse.schema import ensure_schema


def test_every_dictionary_table_and_field_is_in_the_catalogue():
    specs = {**DICTIONARY["tables"], **DICTIONARY["aef_tables"]}
    specs.pop("insert_order")
    renamed = {"cadTrustCobenefitId", "cobenefit", "aefT2AuthorizationsAuthorizedEntityId",
               "programRegistryId"}
    for name, spec in specs.items():
        table = V2.table(name)
        assert table.endpoint == spec["api_endpoint"]
        served = {f.api_name for f in table.fields}
        for f in spec["fields"].values():
            if f["apiField"] in renamed or (name == "stakeholder"
                                            and f["apiField"] == "cadTrustProjectId"):
                continue
            assert f["apiField"] in served, (name, f["apiField"])


def test_the_code_wins_where_it_differs_from_the_dictionary():
    assert V2.table("co_benefit").primary_key == ("cadTrustCoBenefitId",)
    assert "co_benefit_id" in V2.table("co_benefit").columns
    t2 = {f.api_name for f in V2.table("aef_t2_authorizations").fields}
    assert "aefT2AuthorizationsAuthoziedEntityId" in t2  # the real, misspelt name
    assert V2.table("unit_label").primary_key == ("cadTrustUnitLabelId",)
    assert V2.table("project_methodology").primary_key == ("cadTrustProjectMethodologyId",)
    assert ("aefT3ActionsCoopoerativeApproachId", "aefT3ActionsCooperativeApproachId") in \
        V2.table("aef_t3_actions").aliases
    assert V2.table("stakeholder_projects").endpoint == "/v2/stakeholder-projects"
    program = {f.api_name for f in V2.table("program").fields}
    assert {"programRegistryActivityId", "programRegistryProgramId"} <= program
    assert "programRegistryId" not in program


def test_decimals_are_exact_and_the_schema_builds():
    unit = {f.api_name: f for f in V2.table("unit").fields}
    assert unit["unitCount"].type.sql_type == "DECIMAL(38,6)"
    con = duckdb.connect()
    ensure_schema(con, V2)
    tables = {r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = 'cadt_v2'"
    ).fetchall()}
    assert {"project", "unit", "unit_label", "aef_t2_authorizations", "audit",
            "organizations"} <= tables
    assert con.execute("SELECT data_type FROM information_schema.columns WHERE table_schema = "
                       "'cadt_v2' AND table_name = 'unit' AND column_name = 'unit_count'"
                       ).fetchall() == [("DECIMAL(38,6)",)]
