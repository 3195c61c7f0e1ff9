"""v2 node semantics: the ledger's audit rows and node rows, DELETE rows without a value, the
upgrade of a v1 org, decimals per node flavour, legacy spellings, non-total orders, the FTS
paging bug, the truth export and the CLI (cadt-v2-facts.md §2-§5)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cadt_sim import Simulator
from cadt_sim.schema_v2 import BY_NAME, PROJECT_CASCADE, TABLES, snake

CLI = [sys.executable, "-m", "cadt_sim.cli"]


@pytest.fixture()
def fresh2() -> Iterator[Simulator]:
    with Simulator(seed=5, scale=1, v2=True) as s:
        yield s


@pytest.fixture()
def fc2(fresh2: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fresh2.url, timeout=30) as c:
        yield c


def _all(c: httpx.Client, route: str, **p: object) -> list[dict]:
    out, page = [], 1
    while True:
        doc = c.get(route, params={"page": page, "limit": 1000, **p}).json()
        out.extend(doc["data"])
        if page >= doc["pageCount"]:
            return out
        page += 1


def test_api_equals_truth_for_every_table(fc2: httpx.Client, fresh2: Simulator) -> None:
    fresh2.random_activity(3, 8, kinds=["v2"])
    for t in TABLES:
        truth = fresh2.truth(t.name, "v2")
        served = _all(fc2, t.route, **({"order": f"{t.pk}:ASC"} if t.name in
                                       ("project", "unit") else {}))
        assert sorted(served, key=lambda r: r[t.pk]) == truth, t.name


def test_audit_rows_follow_the_store(fresh2: Simulator) -> None:
    audit = fresh2.truth("audit", "v2")
    tables = {t.name for t in TABLES}
    for row in audit:
        if row["type"] == "INSERT" and row["table"] in tables:
            change = json.loads(row["change"])
            assert all(k == k.lower() for k in change), row  # snake_case column keys
            spec = BY_NAME[row["table"]]
            assert change[snake(spec.pk)]
    gens: dict[tuple[str, int], list[str]] = {}
    for row in audit:
        gens.setdefault((row["org_uid"], row["generation"]), []).append(row["type"])
    for types in gens.values():  # optimizeAndSortKvDiff: DELETEs before INSERTs
        assert types == sorted(types, key=lambda t: t != "DELETE") or types[0] in (
            "CREATE REGISTRY", "NO CHANGE")
    # a comment with a quote is not JSON for tryParseJSON: that generation's comment is ''
    quoted = [r for r in audit if r["table"] == "comment" and '"final"' in (r["change"] or "")]
    assert quoted and all(r["comment"] == "" for r in quoted)


def test_delete_rows_change_null_share() -> None:
    for share, expect_null in ((1.0, True), (0.0, False)):
        with Simulator(seed=2, scale=1, v2=True, v2_delete_null_share=share) as s:
            res = s.activity("v2_delete_projects", 2)
            deletes = [r for r in s.truth("audit", "v2") if r["type"] == "DELETE"]
            assert deletes and all((r["change"] is None) == expect_null for r in deletes)
            assert res["changed"].get("project")
            # the writer staged explicit child DELETEs: children are gone from the node
            gone = {r["table"] for r in deletes if r["generation"] == res["generation"]}
            assert {"project", "verification", "issuance", "unit"} <= gone
            assert gone <= {"project", "verification", "issuance", "unit", "unit_label",
                            *PROJECT_CASCADE}


def test_upgrade_gives_a_v1_org_a_v2_store(fc2: httpx.Client, fresh2: Simulator) -> None:
    v1 = fc2.get("/v1/organizations").json()
    before = fc2.get("/v2/organizations").json()
    candidate = next(u for u in v1 if u not in before)
    res = fresh2.activity("upgrade", 2, org=candidate)
    assert res["orgUid"] == candidate and res["generation"] == 1
    after = fc2.get("/v2/organizations").json()
    new, v1_now = after[candidate], fc2.get("/v1/organizations").json()[candidate]
    assert new["registry_id"] != v1_now["registryId"]
    assert new["data_model_version_store_id"] == v1_now["dataModelVersionStoreId"]
    assert v1_now["dataModelVersionStoreHash"] != v1[candidate]["dataModelVersionStoreHash"]
    assert v1_now["registryHash"] == v1[candidate]["registryHash"]  # v1 store untouched
    audit = _all(fc2, "/v2/audit", orgUid=candidate, order="ASC")
    assert [r["type"] for r in audit][:1] == ["CREATE REGISTRY"]
    projects = [p for p in _all(fc2, "/v2/project", orgUid=candidate)]
    v1_ids = {str(p["projectId"]) for p in fresh2.truth("projects") if p["orgUid"] == candidate}
    assert projects and {p["projectId"] for p in projects} <= v1_ids  # republished v1 projects
    with pytest.raises(ValueError):
        fresh2.activity("upgrade", 1, org=candidate)


def test_decimals_per_node_flavour() -> None:
    got = {}
    for flavour in ("number", "string"):
        with Simulator(seed=4, scale=1, v2=True, v2_decimals=flavour) as s:
            got[flavour] = {t: s.truth(t, "v2") for t in ("unit", "estimation",
                                                          "aef_t2_authorizations",
                                                          "aef_t3_actions")}
    cols = {"unit": "unitCount", "estimation": "estimationUnitCount",
            "aef_t2_authorizations": "aefT2AuthorizationsQuantity",
            "aef_t3_actions": "aefT3ActionsQuantityTCo2"}
    for t, col in cols.items():
        nums = [r[col] for r in got["number"][t] if r[col] is not None]
        strs = [r[col] for r in got["string"][t] if r[col] is not None]
        assert nums and all(isinstance(x, int | float) for x in nums), t
        assert all(isinstance(x, str) for x in strs), t
        assert [float(x) for x in strs] == [float(x) for x in nums], t
    assert all(len(x.split(".")[1]) == 6 for x in
               (r["estimationUnitCount"] for r in got["string"]["estimation"]) if x)
    # the other columns are typed the same on both nodes
    u = got["number"]["unit"][0]
    assert isinstance(u["unitVintageYear"], int) and len(u["created_at"]) == 24


def test_node_rows_from_values(fresh2: Simulator) -> None:
    p = fresh2.truth("project", "v2")
    assert all(x["projectSector"] is None or isinstance(x["projectSector"], list) for x in p)
    assert "created_at" in p[0] and "createdAt" not in p[0]
    e = fresh2.truth("estimation", "v2")[0]
    assert "createdAt" in e and "created_at" not in e
    for t in ("unit", "validation", "aef_t2_authorizations"):
        spec = BY_NAME[t]
        dates = [c for c, typ in spec.columns if typ == "dateonly"]
        for row in fresh2.truth(t, "v2"):
            for c in dates:
                assert row[c] is None or len(row[c]) == 10, (t, c, row[c])
    # a child record that carries created_at keeps it (project/unit have no such attribute)
    carried = [json.loads(r["change"]) for r in fresh2.truth("audit", "v2")
               if r["type"] == "INSERT" and r["table"] in ("location", "validation")
               and '"created_at"' in r["change"]]
    rows = {x["cadTrustLocationId"]: x for x in fresh2.truth("location", "v2")}
    rows |= {x["cadTrustValidationId"]: x for x in fresh2.truth("validation", "v2")}
    hits = [v for v in carried if (v.get("cad_trust_location_id")
                                   or v.get("cad_trust_validation_id")) in rows]
    assert hits and all(rows[v.get("cad_trust_location_id") or v["cad_trust_validation_id"]][
        "createdAt"] == v["created_at"] for v in hits)
    # updated_at is the node's first ingest time and stays; edits keep created_at too
    before = {u["cadTrustUnitId"]: u for u in fresh2.truth("unit", "v2")}
    res = fresh2.activity("v2_retire", 3)
    after = {u["cadTrustUnitId"]: u for u in fresh2.truth("unit", "v2")}
    changed = [k for k in before if before[k] != after.get(k)]
    assert len(changed) == res["changed"]["unit"] == 3
    for k in changed:
        a, b = after[k], before[k]
        assert (a["updated_at"], a["created_at"]) == (b["updated_at"], b["created_at"])
        assert a["unitStatus"] == "Retired" and a["unitStatusDate"] and \
            a["unitRetirementBeneficiary"]


def test_legacy_spellings(fresh2: Simulator) -> None:
    audit = fresh2.truth("audit", "v2")
    legacy = [r for r in audit if r["change"] and "_coopoerative_approach_id" in r["change"]]
    assert {r["table"] for r in legacy} == {"aef_t3_actions", "aef_t4_holdings"}
    current = [r for r in audit if r["table"] in ("aef_t3_actions", "aef_t4_holdings")
               and r["change"] and "_cooperative_approach_id" in r["change"]]
    assert current, "newer records use the corrected key"
    for t, col in (("aef_t3_actions", "aefT3ActionsCooperativeApproachId"),
                   ("aef_t4_holdings", "aefT4HoldingsCooperativeApproachId")):
        for row in fresh2.truth(t, "v2"):
            assert row[col], (t, row)  # ingest mapped the old key onto the current column
            assert not any("Coopoerative" in k for k in row)
    t2 = fresh2.truth("aef_t2_authorizations", "v2")[0]
    assert "aefT2AuthorizationsAuthoziedEntityId" in t2  # the real misspelled column


def test_default_orders_are_not_total(fc2: httpx.Client, fresh2: Simulator) -> None:
    org = next(iter(fresh2.ledger.v2.orgs))
    fresh2.activity("v2_new_projects", 3, org=org)  # one generation: equal created_at
    seen = set()
    for _ in range(6):
        units = fc2.get("/v2/unit", params={"page": 1, "limit": 1000}).json()["data"]
        seen.add(tuple(u["cadTrustUnitId"] for u in units))
        fresh2.activity("v2_edit_projects", 1, org=org)  # any commit reshuffles ties
    assert len(seen) > 1
    # validation has no ORDER BY: rowid order, stable across commits
    vals = [v["cadTrustValidationId"] for v in _all(fc2, "/v2/validation")]
    assert vals == list(fresh2.ledger.v2["validation"].rows)


def test_search_pages_after_the_first_are_empty(fc2: httpx.Client, fresh2: Simulator) -> None:
    org = next(iter(fresh2.ledger.v2.orgs))
    p1 = fc2.get("/v2/unit", params={"page": 1, "limit": 5, "search": "tCO2e", "orgUid": org})
    p2 = fc2.get("/v2/unit", params={"page": 2, "limit": 5, "search": "tCO2e", "orgUid": org})
    assert len(p1.json()["data"]) == 5 and p1.json()["pageCount"] == 1
    assert p2.json()["data"] == []


def test_sync_headers_come_from_the_v2_map(fc2: httpx.Client, fresh2: Simulator) -> None:
    v2 = fresh2.ledger.v2
    org = v2.orgs[next(iter(v2.orgs))]
    dropped = v2.audit_reset_begin(org, 2)
    try:
        r2 = fc2.get("/v2/unit", params={"page": 1, "limit": 1})
        r1 = fc2.get("/v1/units", params={"page": 1, "limit": 1})
        assert r2.headers["x-data-synced"] == "false" and r2.headers["x-sync-remaining"] == "2"
        assert r1.headers["x-data-synced"] == "true"
        assert fc2.get("/v2/organizations").json()[org.org_uid]["sync_remaining"] == 2
    finally:
        v2.audit_reset_finish(org, dropped)


def test_cli_serve_v2_and_truth(tmp_path: Path) -> None:
    proc = subprocess.Popen([*CLI, "serve", "--port", "0", "--seed", "6", "--v2", "empty",
                             "--v2-decimals", "string"], stdout=subprocess.PIPE, text=True)
    try:
        url = proc.stdout.readline().strip().rsplit(" ", 1)[1]  # type: ignore[union-attr]
        assert httpx.get(url + "/v2/organizations").json() == {}
        out = subprocess.run([*CLI, "activity", "--url", url, "--kind", "upgrade"],
                             capture_output=True, text=True, check=True).stdout
        assert json.loads(out)["model"] == "v2"
        subprocess.run([*CLI, "truth", "--url", url, "--out", str(tmp_path)], check=True,
                       capture_output=True)
        units = (tmp_path / "v2" / "unit.ndjson").read_text().splitlines()
        assert units and isinstance(json.loads(units[0])["unitCount"], str)
        assert (tmp_path / "units.ndjson").stat().st_size > 0  # v1 tables still there
        orgs = (tmp_path / "v2" / "organizations.ndjson").read_text().splitlines()
        assert len(orgs) == 1
    finally:
        proc.terminate()
        proc.wait(timeout=30)
