"""Data-quality flags: each fires on its crafted record (tests/dbt/warehouse.py, QUALITY_*) and
on nothing else; on the clean story none fires."""

from __future__ import annotations

import pytest

from .warehouse import QUALITY_PROJECT_RULES, QUALITY_UNIT_RULES

pytestmark = pytest.mark.xdist_group("dbt")

FLAG_COLUMNS = {
    "is_retired_before_vintage": "retired_before_vintage",
    "has_contradictory_ca": "contradictory_corresponding_adjustment",
    "is_serial_count_mismatch": "serial_count_mismatch",
    "has_placeholder_value": "placeholder_value",
}
# rules that say something is wrong with the data (no_current_project and registry_inferred
# describe the attribution, and fire on the clean story's deleted project and issuance-less unit)
DEFECT_RULES = {"registry_unknown", "placeholder_value", "retired_before_vintage",
                "contradictory_corresponding_adjustment", "serial_count_mismatch",
                "serial_block_unparsed"}


def _flagged(query, column: str) -> set[str]:
    return {r[0] for r in query(f"select warehouse_unit_id from marts.fct_units where {column}")}


def test_each_unit_flag_fires_on_its_case_only(quality_query):
    for column, rule in FLAG_COLUMNS.items():
        expected = {u for u, rules in QUALITY_UNIT_RULES.items() if rule in rules}
        assert _flagged(quality_query, column) == expected, column
    assert _flagged(quality_query, "not serial_block_parsed") == {"UQ5"}


def test_flags_do_not_fire_on_clean_data(query):
    for column in (*FLAG_COLUMNS, "not serial_block_parsed"):
        assert _flagged(query, column) == set(), column
    rows = query(
        "select rule, sum(records_flagged) from marts.mart_data_quality group by rule "
        "having sum(records_flagged) > 0 order by rule"
    )
    assert rows == [("no_current_project", 2)]  # U3 (no issuance), U5 (project P3 deleted)
    assert query(
        "select count(*) from marts.dim_projects where registry is null or has_placeholder_value"
    ) == [(0,)]


def test_every_rule_is_summarised_per_organization(quality_query):
    rows = quality_query(
        "select entity, rule, records_flagged from marts.mart_data_quality "
        "where org_uid like 'o1%' order by entity, rule"
    )
    rules = quality_query("select entity, rule from staging.data_quality_rules order by 1, 2")
    assert [(e, r) for e, r, _ in rows] == rules  # every rule, also those nobody breaks
    issues = quality_query(
        "select record_id, rule from intermediate.int_data_quality_issues "
        "where rule in ('" + "', '".join(DEFECT_RULES) + "')"
    )
    found: dict[str, set[str]] = {}
    for record, rule in issues:
        found.setdefault(record, set()).add(rule)
    expected = {
        **{u: r & DEFECT_RULES for u, r in QUALITY_UNIT_RULES.items()},
        **{p: r & DEFECT_RULES for p, r in QUALITY_PROJECT_RULES.items()},
    }
    assert found == {k: v for k, v in expected.items() if v}


def test_placeholders_become_null_and_keep_the_raw_value(quality_query):
    rows = quality_query(
        "select project_developer, project_developer_raw, program, program_raw, registry, "
        "registry_source, placeholder_columns from marts.dim_projects "
        "where warehouse_project_id = 'PQ2'"
    )
    assert rows == [(None, "n.a.", None, "N/A", None, "unknown",
                     "current_registry, registry_of_origin, program, project_developer, methodology")]
    assert quality_query(
        "select unit_owner, unit_owner_raw from marts.fct_units where warehouse_unit_id = 'UQ4'"
    ) == [(None, "N/A")]
    # "n.a." is no developer: no project is grouped under it
    assert quality_query(
        "select count(*) from marts.mart_developer_portfolio where developer_key = 'n a'"
    ) == [(0,)]


def test_registry_falls_back_to_the_publishing_organization(quality_query):
    rows = quality_query(
        "select warehouse_project_id, registry, registry_source from marts.dim_projects "
        "where warehouse_project_id in ('PQ1', 'PQ2') order by 1"
    )
    assert rows == [("PQ1", "Registry One", "organization"), ("PQ2", None, "unknown")]
    [(unknown,)] = quality_query(
        "select records_flagged from marts.mart_data_quality "
        "where entity = 'project' and rule = 'registry_unknown' and org_uid like 'o9%'"
    )
    assert unknown == 1


def test_article6_contradictions_are_reported_apart(quality_query):
    [(relevant, flagged)] = quality_query(
        "select is_article6_relevant, has_contradictory_ca from marts.mart_article6_units "
        "where warehouse_unit_id = 'UQ2'"
    )
    assert (relevant, flagged) == (False, True)
    [(contradictory, completed, not_required)] = quality_query(
        "select sum(quantity_ca_contradictory), sum(quantity_ca_completed), "
        "sum(quantity_ca_not_required) from marts.mart_article6_by_country"
    )
    assert (contradictory, completed, not_required) == (10, 0, 0)
    [(parts, total)] = quality_query(
        "select sum(quantity_ca_committed + quantity_ca_not_required + quantity_ca_unknown "
        "+ quantity_ca_contradictory), sum(quantity_total) from marts.mart_article6_by_country"
    )
    assert parts == total
