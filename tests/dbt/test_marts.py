"""`dbt build` over the hand-written warehouse (tests/dbt/warehouse.py): the mart numbers."""

from __future__ import annotations

import pytest

from .warehouse import O1

pytestmark = pytest.mark.xdist_group("dbt")


def test_issuances_count_every_unit_record_once(query):
    rows = query(
        "select issuance_id, issuance_exists, project_exists, quantity_issued, quantity_retired "
        "from marts.fct_issuances order by issuance_id"
    )
    assert rows == [
        ("I1", True, True, 1100, 500),  # split 600 + 400, plus U2 100
        ("I2", True, True, 300, 300),
        ("I3", True, False, 50, 0),  # project P3 deleted, issuance and unit left behind
        ("I4", True, True, 100, 0),
        ("unattributed:" + O1, False, False, 20, 0),  # U3 has no issuance
    ]


def test_retired_at_follows_the_audit_with_fallback(query):
    rows = query(
        "select warehouse_unit_id, quantity, strftime(retired_at, '%Y-%m-%d'), retired_at_source "
        "from marts.fct_retirements order by warehouse_unit_id"
    )
    assert rows == [
        ("U1b", 400, "2024-03-01", "audit_history"),  # retired after the split
        ("U2", 100, "2024-04-01", "audit_history"),  # retired, un-retired, retired again
        ("U6", 300, "2023-09-09", "record_created_at"),  # no history: createdAt lower bound
    ]


def test_status_events_include_split_and_delete(query):
    rows = query(
        "select warehouse_unit_id, generation, event_type, from_status, to_status, "
        "split_parent_unit_id from marts.fct_unit_status_events "
        "where warehouse_unit_id in ('U1', 'U1b', 'U4') order by generation, warehouse_unit_id"
    )
    assert rows == [
        ("U1", 1, "created", None, "Held", None),
        ("U4", 1, "created", None, "Held", None),
        ("U1", 2, "split", "Held", "Held", None),
        ("U1b", 2, "split_off", "Held", "Held", "U1"),
        ("U1b", 3, "status_change", "Held", "Retired", None),
        ("U4", 3, "deleted", "Held", None, None),
    ]


def test_balances_add_up_to_all_unit_records(query):
    [(total, records)] = query(
        "select sum(quantity), sum(unit_record_count) from marts.fct_credit_balances"
    )
    assert (total, records) == (1570, 7)
    [(no_project, key)] = query(
        "select sum(quantity), any_value(project_key) from marts.fct_credit_balances "
        "where warehouse_project_id is null"
    )
    assert (no_project, key) == (20, "unattributed:" + O1)  # U3 has no issuance


def test_dim_projects_totals_and_flags(query):
    rows = query(
        "select warehouse_project_id, project_record_status, quantity_issued, quantity_retired, "
        "quantity_outstanding, registry, registry_of_origin, host_country_iso3_list, "
        "double_counting_candidate_count, double_counting_best_tier "
        "from marts.dim_projects order by 1"
    )
    assert rows == [
        ("P1", "current", 1100, 500, 600, "Verra", "Verra", "BRA", 2, 1),
        ("P2", "current", 300, 300, 0, "Gold Standard", "Verra", "BRA", 1, 1),
        # the deleted project's unit stays counted, under its id, with its organization's registry
        ("P3", "deleted", 50, 0, 50, "Registry One", None, "PER", 0, None),
        ("P4", "current", 100, 0, 100, "Verra", "Verra", "KEN", 1, 2),
        # U3 (no issuance): its organization's row
        ("unattributed:" + O1, "unattributed", 20, 0, 20, "Registry One", None, None, 0, None),
    ]


def test_double_counting_rules_each_give_one_row_per_pair_ranked_by_tier(query):
    rows = query(
        "select tier, rule, project_a_id, project_b_id, is_pair_best_tier "
        "from marts.mart_double_counting_candidates order by tier, rule"
    )
    assert rows == [
        (1, "same_origin_project_id", "P1", "P2", True),  # origin Verra/VCS 1001, two orgs
        (2, "overlapping_serial_range", "P1", "P4", True),  # U1b and U7
        (3, "same_name_developer_country", "P1", "P2", False),  # "Forest Guard", green dev, BRA
        (4, "same_developer_sector_country_overlap", "P1", "P2", False),
    ]


def test_developer_names_are_grouped(query):
    rows = query(
        "select developer_key, project_count, registry_count, quantity_issued "
        "from marts.mart_developer_portfolio order by developer_key"
    )
    # '(unknown)' holds the deleted P3's U5 (50) and the issuance-less U3 (20): no project
    assert rows == [("(unknown)", 0, 1, 70), ("green dev", 2, 2, 1400), ("windco", 1, 1, 100)]


def test_article6_by_country(query):
    rows = query(
        "select host_country_iso3, vintage_year, quantity_total, quantity_ca_committed, "
        "quantity_authorized, quantity_retired from marts.mart_article6_by_country "
        "order by 1 nulls last, 2"
    )
    assert rows == [
        ("BRA", 2020, 1300, 0, 0, 700),
        ("BRA", 2021, 100, 100, 100, 100),
        ("KEN", 2020, 100, 0, 0, 0),
        ("PER", 2019, 50, 0, 0, 0),  # the deleted project's location still places U5
        (None, 2019, 20, 0, 0, 0),  # U3: no issuance, no host country
    ]


def test_unmatched_country_names_are_reported(query):
    assert query("select source_column, country_raw from marts.mart_unmatched_country_names") == [
        ("project_locations.country", "Brasil")
    ]


def test_canonical_status_keeps_the_raw_value(query):
    rows = query(
        "select unit_status_raw, unit_status from staging.stg_cadt_v1__units "
        "where warehouse_unit_id in ('U3', 'U6') order by warehouse_unit_id"
    )
    assert rows == [("For Sale", "Held"), ("retired", "Retired")]


def test_deleted_units_keep_their_project_in_the_history(query):
    rows = query(
        "select warehouse_project_id, unit_exists from marts.fct_unit_status_events "
        "where warehouse_unit_id = 'U4' and event_type = 'deleted'"
    )
    assert rows == [("P1", False)]
