"""Incremental syncs re-read changed records within the node's request limits and budget.

Budget for one organization with `n` new and `k` edited records of a table: its audit pages +
ceil(n / 1000) + min(ceil(k / 200), pages of that table) requests, plus a small constant
(the organizations map and the pick lists). Edits whose feed value is provably what the node
stores cost nothing; new records are found by `updatedAt` (their first-ingest time).
"""

from __future__ import annotations

import math
import uuid
from dataclasses import replace

import duckdb

from pipelines.sync import run_sync
from tests.support.truth import diff

CONSTANT = 2  # /v1/organizations + the pick lists


def _first_org(sim) -> str:
    return sorted(sim.ledger.orgs)[0]


def _synced(sim, settings):
    report = run_sync(settings)
    assert report.status == "success", report.error
    return report


def _changed_sync(sim, settings):
    sim.reset_stats()
    report = _synced(sim, settings)
    assert diff(sim, settings.database) == {}
    return report, sim.stats()["by_route"]


def _audit_pages(sim, org: str) -> int:
    return math.ceil(len(sim.ledger.orgs[org].audit) / 1000)


def test_edited_units_are_taken_from_the_feed_without_a_unit_request(sim, settings):
    _synced(sim, settings)
    org = _first_org(sim)
    sim.activity("retire", count=20, org=org)
    sim.activity("edit_units", count=20, org=org)
    report, routes = _changed_sync(sim, settings)
    assert "/v1/units" not in routes
    assert report.requests <= CONSTANT + _audit_pages(sim, org)
    (changed,) = [o for o in report.orgs if o.mode == "incremental"]
    assert "from the feed" in changed.reads["units"]


def test_new_units_cost_a_page_per_thousand(sim, settings):
    _synced(sim, settings)
    org = _first_org(sim)
    sim.activity("issue_units", count=60, org=org)  # one issuance, 60 new unit blocks
    report, routes = _changed_sync(sim, settings)
    assert routes["/v1/units"] <= math.ceil(60 / 1000) + 1
    assert report.requests <= CONSTANT + _audit_pages(sim, org) + 2 + 1  # + the project


def test_new_children_re_read_their_projects_two_hundred_at_a_time(sim, settings):
    _synced(sim, settings)
    org = _first_org(sim)
    sim.activity("add_children", count=6, org=org)
    _report, routes = _changed_sync(sim, settings)
    assert routes["/v1/projects"] == 1
    assert "/v1/units" not in routes


def test_a_split_costs_one_unit_page_not_one_request_per_two_units(sim, settings):
    _synced(sim, settings)
    org = _first_org(sim)
    sim.activity("split", count=15, org=org)
    _report, routes = _changed_sync(sim, settings)
    assert routes["/v1/units"] <= 2


def test_oddly_typed_values_are_re_read_and_a_recrawl_is_chosen_when_cheaper(sim, settings):
    """A value the node would coerce (a number in a text field) is not provably the node's
    row: the unit is re-read. Three such units cost two `filter` requests (two ids each) or
    one keyset page of the organization's units: the sync takes the page."""
    _synced(sim, settings)
    org_uid = _first_org(sim)
    org = sim.ledger.orgs[org_uid]
    units = [k.partition("|")[2] for k in org.kv if k.startswith("unit|")][:3]
    ops = []
    for uid in units:
        value = sim.ledger.value(org, "unit", uid)
        ops.append(("unit", uid, {**value, "unitOwner": 4711, "unitTags": True}))
    sim.ledger.commit(org, ops)
    report, routes = _changed_sync(sim, settings)
    (changed,) = [o for o in report.orgs if o.mode == "incremental"]
    assert changed.reads["units"].startswith("keyset")
    assert routes["/v1/units"] == 1  # the organization's units fit one page


def test_rows_rebuilt_from_the_feed_carry_no_invented_node_times(sim, settings):
    """A child added and its project deleted before the mirror saw either: the API never shows
    the child, so its node-local `created_at` / `updated_at` are unknowable and stay NULL."""
    _synced(sim, settings)
    org_uid = _first_org(sim)
    org = sim.ledger.orgs[org_uid]
    pid = next(k.partition("|")[2] for k in org.kv if k.startswith("project|"))
    cid = str(uuid.uuid4())
    sim.ledger.commit(org, [("coBenefits", cid, {
        "id": cid, "orgUid": org_uid, "warehouseProjectId": pid, "cobenefit": "SDG 13",
        "timeStaged": "1700000000"})])
    sim.ledger.commit(org, [("project", pid, None)])
    _changed_sync(sim, settings)
    con = duckdb.connect(str(settings.database), read_only=True)
    try:
        row = con.execute("SELECT _source, created_at, updated_at, time_staged IS NOT NULL, "
                          "cobenefit FROM cadt_v1.co_benefits WHERE id = ?", [cid]).fetchall()
    finally:
        con.close()
    assert row == [("audit", None, None, True, "SDG 13")]


def test_a_feed_that_grows_under_an_unchanged_hash_is_caught_by_verify_and_called_so(
        sim, settings):
    """A node that has not published its new root yet: the org map keeps the old
    registryHash while the audit feed grows. A normal sync sees nothing (two requests); the
    tail check (`verify`) finds the new rows, applies them incrementally and says what it
    found, not "audit reset"."""
    _synced(sim, settings)
    org = _first_org(sim)
    sim.ledger.frozen_roots.add(org)
    sim.activity("retire", count=5, org=org)
    sim.activity("new_projects", count=1, org=org)
    quiet = _synced(sim, settings)
    assert all(o.mode == "unchanged" for o in quiet.orgs)
    assert diff(sim, settings.database) != {}  # the mirror is behind, as the node's map says
    report = _synced(sim, replace(settings, verify=True))
    (changed,) = [o for o in report.orgs if o.mode != "unchanged"]
    assert changed.mode == "incremental"
    assert "grew under an unchanged registryHash" in changed.reason
    assert diff(sim, settings.database) == {}
    again = _synced(sim, replace(settings, verify=True))
    assert all(o.mode == "unchanged" for o in again.orgs)
    # the node then publishes its root: one audit request, no re-read, no snapshot
    sim.ledger.frozen_roots.discard(org)
    node_org = sim.ledger.orgs[org]
    node_org.registryHash = node_org.gens[node_org.generation].root
    sim.ledger.version += 1
    sim.reset_stats()
    caught_up = _synced(sim, settings)
    (moved,) = [o for o in caught_up.orgs if o.mode != "unchanged"]
    assert moved.mode == "incremental" and "published the root" in moved.reason
    assert set(sim.stats()["by_route"]) == {"/v1/organizations", "/v1/governance/meta/pickList",
                                            "/v1/audit"}
    assert diff(sim, settings.database) == {}
    assert all(o.mode == "unchanged" for o in _synced(sim, settings).orgs)
