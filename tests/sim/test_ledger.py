"""Ledger semantics: one commit = one generation, audit rows per kind of commit, ingestion
rules (updatedAt, orphans), audit reset, org add/remove, truth == served."""

from __future__ import annotations

import json
import re

import httpx

from cadt_sim import Simulator

from .conftest import crawl


def _audit(c: httpx.Client, org: str) -> list[dict]:
    """The whole feed, 1000 rows a page (the newer builds' maximum, which the simulator keeps)."""
    out: list[dict] = []
    page = 1
    while True:
        doc = c.get("/v1/audit", params={"orgUid": org, "page": page, "limit": 1000,
                                         "order": "ASC"}).json()
        out.extend(doc["data"])
        if page >= doc["pageCount"]:
            return out
        page += 1


def _gen_rows(c: httpx.Client, org: str, gen: int) -> list[dict]:
    return [r for r in _audit(c, org) if r["generation"] == gen]


def _org(sim: Simulator) -> str:
    return max(sim.ledger.orgs, key=lambda u: len(sim.ledger.orgs[u].kv))


def test_initial_history(fresh: Simulator, fc: httpx.Client) -> None:
    all_tables: set[str] = set()
    for org in fresh.ledger.orgs:
        rows = _audit(fc, org)
        gens = sorted({r["generation"] for r in rows})
        assert gens == list(range(len(gens))) and len(gens) >= 5
        assert rows[0]["type"] == "CREATE REGISTRY" and rows[0]["generation"] == 0
        assert {"INSERT", "DELETE", "NO CHANGE"} <= {r["type"] for r in rows}
        ts = {}
        for r in rows:
            ts.setdefault(r["generation"], set()).add(r["onchainConfirmationTimeStamp"])
        stamps = [int(next(iter(ts[g]))) for g in gens]
        assert all(len(ts[g]) == 1 for g in gens) and stamps == sorted(set(stamps))
        tables = {r["table"] for r in rows if r["table"]}
        all_tables |= tables
        assert {"project", "unit", "issuances", "comment", "author"} <= tables
        retired = [json.loads(r["change"]) for r in rows if r["table"] == "unit"
                   and r["generation"] > 3 and '"Retired"' in (r["change"] or "")]
        assert retired, "retirements happen in later generations"
    assert "label_units" in all_tables


def test_deletes_before_inserts_in_a_generation(fresh: Simulator, fc: httpx.Client) -> None:
    # src/tasks/sync-registries.js @ 1.7.24 writes a generation's audit rows in the order of
    # optimizeAndSortKvDiff (src/utils/datalayer-utils.js): a stable sort, DELETEs first
    led = fresh.ledger
    org = _org(fresh)
    o = led.orgs[org]
    pid = next(k.split("|")[1] for k in o.kv if k.startswith("project|"))
    uid = next(k.split("|")[1] for k in o.kv if k.startswith("unit|"))
    edited = {**led.value(o, "project", pid), "projectName": "Renamed"}
    res = led.commit(o, [("project", pid, edited), ("unit", uid, None)], comment="c", author="a")
    rows = _gen_rows(fc, org, res["generation"])  # ASC: rows of one timestamp in id order
    assert [(r["type"], r["table"]) for r in rows] == [
        ("DELETE", "unit"), ("INSERT", "project"), ("INSERT", "comment"), ("INSERT", "author")]
    for u in led.orgs:
        gens: dict[int, list[str]] = {}
        for r in _audit(fc, u):
            gens.setdefault(r["generation"], []).append(r["type"])
        for types in gens.values():
            assert types == sorted(types, key=lambda t: t != "DELETE"), types


def test_commit_updates_org_map(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    before = fc.get("/v1/organizations").json()[org]["registryHash"]
    res = fresh.activity("retire", 3, org)
    assert res["orgUid"] == org and res["changed"] == {"units": 3}
    after = fc.get("/v1/organizations").json()[org]
    assert after["registryHash"] != before
    assert re.fullmatch(r"0x[0-9a-f]{64}", after["registryHash"])
    rows = _gen_rows(fc, org, res["generation"])
    assert [r["type"] for r in rows].count("INSERT") == 4  # 3 units + the comment key
    assert all(r["rootHash"] == after["registryHash"] for r in rows)
    unit_rows = [r for r in rows if r["table"] == "unit"]
    for r in unit_rows:
        v = json.loads(r["change"])
        assert v["unitStatus"] == "Retired"
        served = fc.get("/v1/units", params={"warehouseUnitId": v["warehouseUnitId"]}).json()
        assert served["unitStatus"] == "Retired"
        assert served["updatedAt"] < r["createdAt"], "re-ingest keeps updatedAt"
    assert len({r["id"] for r in rows}) == len(rows)


def test_split_exactly_as_real(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    before = {u["warehouseUnitId"]: u for u in fresh.truth("units")}
    res = fresh.activity("split", 1, org)
    rows = [r for r in _gen_rows(fc, org, res["generation"]) if r["table"] == "unit"]
    recs = [json.loads(r["change"]) for r in rows]
    assert len(recs) >= 2
    orig = before[recs[0]["warehouseUnitId"]]
    assert all(x["warehouseUnitId"] not in before for x in recs[1:])
    assert sum(x["unitCount"] for x in recs) == orig["unitCount"]
    after = {u["warehouseUnitId"]: u for u in fresh.truth("units")}
    for x in recs:
        u = after[x["warehouseUnitId"]]
        assert u["issuanceId"] == orig["issuanceId"]
        assert u["serialNumberBlock"] == f"{u['unitBlockStart']}-{u['unitBlockEnd']}"
        for k in ("vintageYear", "unitType", "correspondingAdjustmentDeclaration",
                  "correspondingAdjustmentStatus", "countryJurisdictionOfOwner"):
            assert u[k] == orig[k], k
    orig_labels = {lab["id"] for lab in fc.get("/v1/units", params={
        "warehouseUnitId": orig["warehouseUnitId"]}).json()["labels"]}
    for x in recs[1:]:
        new = fc.get("/v1/units", params={"warehouseUnitId": x["warehouseUnitId"]}).json()
        assert {lab["id"] for lab in new["labels"]} == orig_labels


def test_delete_project_leaves_orphans(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    res = fresh.activity("delete_projects", 1, org)
    rows = _gen_rows(fc, org, res["generation"])
    dele = [r for r in rows if r["type"] == "DELETE"]
    assert len(dele) == 1 and dele[0]["table"] == "project"
    change = json.loads(dele[0]["change"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \+00:00", change["createdAt"])
    pid = change["warehouseProjectId"]
    assert fc.get("/v1/projects", params={"warehouseProjectId": pid}).text == "null"
    assert any(x["warehouseProjectId"] == pid for x in fresh.truth("issuances"))


def test_delete_units_and_no_change(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    res = fresh.activity("delete_units", 2, org)
    dele = [r for r in _gen_rows(fc, org, res["generation"]) if r["type"] == "DELETE"]
    assert len(dele) == 2 and {r["table"] for r in dele} == {"unit"}
    gone = {json.loads(r["change"])["warehouseUnitId"] for r in dele}
    assert not gone & {u["warehouseUnitId"] for u in fresh.truth("units")}
    o = fresh.ledger.orgs[org]
    res = fresh.ledger.commit(o, [])
    assert [r["type"] for r in _gen_rows(fc, org, res["generation"])] == ["NO CHANGE"]


def test_other_kinds(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    for kind in ("new_projects", "issue_units", "cancel", "edit_projects", "edit_units",
                 "add_children", "remove_children"):
        gen_before = fresh.ledger.orgs[org].generation
        res = fresh.activity(kind, 2, org)
        assert res["generation"] == gen_before + 1, kind
        assert res["changed"], kind
    res = fresh.activity("new_org")
    new = res["orgUid"]
    assert new in fc.get("/v1/organizations").json()
    assert fc.get("/v1/projects", params={"page": 1, "limit": 10, "orgUid": new}).json()["data"]
    fresh.activity("remove_org", org=new)
    assert new not in fc.get("/v1/organizations").json()
    assert not [p for p in fresh.truth("projects") if p["orgUid"] == new]
    assert fc.get("/v1/audit", params={"orgUid": new, "page": 1, "limit": 5}).json()[
        "pageCount"] == 0


def test_audit_reset(fresh: Simulator, fc: httpx.Client) -> None:
    org = _org(fresh)
    o = fresh.ledger.orgs[org]
    before = _audit(fc, org)
    top = o.generation
    dropped = fresh.ledger.audit_reset_begin(o, 3)
    mid = _audit(fc, org)
    assert max(r["generation"] for r in mid) == top - 3
    m = fc.get("/v1/organizations").json()[org]
    assert m["synced"] is False and m["sync_remaining"] == 3
    fresh.ledger.audit_reset_finish(o, dropped)
    after = _audit(fc, org)
    assert len(after) == len(before)
    old = {r["id"] for r in before if r["generation"] > top - 3}
    new = {r["id"] for r in after if r["generation"] > top - 3}
    assert old and not old & new and min(new) > max(r["id"] for r in before)
    strip = lambda rs: sorted((r["generation"], r["type"], r["table"] or "", r["change"] or "")  # noqa: E731
                              for r in rs)
    assert strip(after) == strip(before)
    assert fc.get("/v1/organizations").json()[org]["registryHash"] == before[-1]["rootHash"]
    res = fresh.activity("audit_reset", 2, org)
    assert res["generation"] == top


def test_truth_matches_served(fresh: Simulator, fc: httpx.Client) -> None:
    fresh.random_activity(5, rounds=5)
    served = crawl(fc, "/v1/units", "warehouseUnitId", limit=300)
    truth_units = fresh.truth("units")
    flat = [{k: v for k, v in u.items() if k not in ("labels", "issuance")} for u in served]
    assert flat == sorted(truth_units, key=lambda u: u["warehouseUnitId"])
    projects = crawl(fc, "/v1/projects", "warehouseProjectId", limit=7)
    locs = {x["id"]: x for p in projects for x in p["projectLocations"]}
    t_locs = {x["id"]: x for x in fresh.truth("projectLocations")}
    assert all(t_locs[i] == x for i, x in locs.items())
    assert set(t_locs) >= set(locs)
    orgs = fresh.truth("organizations")
    assert {o["orgUid"]: o for o in orgs} == fc.get("/v1/organizations").json()
    audit = fresh.truth("audit")
    assert len(audit) == sum(len(_audit(fc, o["orgUid"])) for o in orgs)
    for name in ("pickList", "labels", "issuances", "coBenefits", "relatedProjects",
                 "projectRatings", "estimations", "label_unit"):
        assert fresh.truth(name) is not None
    # ingestion types: numbers for string columns come back as strings, dates as ISO
    for p in fresh.truth("projects"):
        assert p["originProjectId"] is None or isinstance(p["originProjectId"], str)
        assert p["projectStatusDate"] is None or p["projectStatusDate"].endswith(".000Z")
    assert all(isinstance(x["geographicIdentifier"], str) for x in t_locs.values()
               if x["geographicIdentifier"] is not None)


def test_messy_data(sim: Simulator) -> None:
    units = sim.truth("units")
    projects = sim.truth("projects")
    assert any(u["issuanceId"] is None for u in units)
    assert any(u["unitStatus"] not in sim.truth("pickList")[0]["unitStatus"] for u in units)
    keys = {}
    for p in projects:
        keys.setdefault((p["registryOfOrigin"], p["originProjectId"]), set()).add(p["orgUid"])
    assert any(len(v) > 1 for v in keys.values()), "same project published by two orgs"
    assert any(any(ord(ch) > 0x2000 for ch in (p["projectName"] or "")) for p in projects)
    live = {p["warehouseProjectId"] for p in projects}
    assert any(x["warehouseProjectId"] not in live for x in sim.truth("estimations")
               + sim.truth("projectLocations") + sim.truth("issuances"))
