"""The Article 6 AEF books add up: every T3 action draws a disjoint ITMO sub-range of its T2
authorization and never more than it, T4 holdings are what is left (T4 = T2 - T3 per
cooperative approach and party), units carry the ITMO ranges of their actions, and all of it
stays true under v2 activity."""

from __future__ import annotations

import time
from collections import defaultdict
from itertools import pairwise

from cadt_sim import Simulator


def _q(v: object) -> float:
    return float(v)  # numbers on SQLite nodes, numeric strings on MySQL ones


def check_books(sim: Simulator) -> dict[str, int]:
    t2 = {r["cadTrustAefT2AuthorizationsId"]: r for r in sim.truth("aef_t2_authorizations", "v2")}
    t3 = sim.truth("aef_t3_actions", "v2")
    t4 = sim.truth("aef_t4_holdings", "v2")
    units = {u["cadTrustUnitId"]: u for u in sim.truth("unit", "v2")}
    authorized: dict[tuple, float] = defaultdict(float)
    acted: dict[tuple, float] = defaultdict(float)
    held: dict[tuple, float] = defaultdict(float)
    ranges: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for a in t2.values():
        key = (a["aefT2AuthorizationsCooperativeApproachId"],
               a["aefT2AuthorizationsAuthorizedPartyId"])
        authorized[key] += _q(a["aefT2AuthorizationsQuantity"])
    for x in t3:
        a = t2[x["cadTrustAefT2AuthorizationsId"]]  # the required FK resolves
        key = (x["aefT3ActionsCooperativeApproachId"], x["aefT3ActionsAcquiringPartyId"])
        assert key == (a["aefT2AuthorizationsCooperativeApproachId"],
                       a["aefT2AuthorizationsAuthorizedPartyId"])
        assert x["aefT3ActionsAuthorizationId"] == a["aefT2AuthorizationsId"]
        assert x["aefT3ActionsDate"] >= a["aefT2AuthorizationsDate"]
        first, last = int(x["aefT3ActionsItmoFirstId"]), int(x["aefT3ActionsItmoLastId"])
        assert last - first + 1 == _q(x["aefT3ActionsQuantityTCo2"]) > 0
        ranges[a["cadTrustAefT2AuthorizationsId"]].append((first, last))
        acted[key] += _q(x["aefT3ActionsQuantityTCo2"])
        unit = units.get(x["cadTrustUnitId"])
        if unit is not None:  # the unit shows the ITMO range of its action
            assert f"-{first}-{last}-" in (unit["unitItmosReferenceId"] or "")
    for h in t4:
        a = t2[h["cadTrustAefT2AuthorizationsId"]]
        key = (h["aefT4HoldingsCooperativeApproachId"], a["aefT2AuthorizationsAuthorizedPartyId"])
        assert key[0] == a["aefT2AuthorizationsCooperativeApproachId"]
        first, last = int(h["aefT4HoldingsItmoFirstId"]), int(h["aefT4HoldingsItmoLastId"])
        assert last - first + 1 == _q(h["aefT4HoldingsQuantityTCo2"]) > 0
        ranges[a["cadTrustAefT2AuthorizationsId"]].append((first, last))
        held[key] += _q(h["aefT4HoldingsQuantityTCo2"])
    # T3 + T4 ranges of one authorization tile its ITMO range exactly, without overlap
    by_auth_qty = {k: int(_q(a["aefT2AuthorizationsQuantity"])) for k, a in t2.items()}
    for auth, rs in ranges.items():
        rs.sort()
        assert all(a[1] < b[0] for a, b in pairwise(rs)), auth
        assert sum(b - a + 1 for a, b in rs) == by_auth_qty[auth], auth
        assert rs[-1][1] - rs[0][0] + 1 == by_auth_qty[auth], auth
    for key, q in authorized.items():
        assert acted[key] <= q, key  # never more than authorized
        assert held[key] == q - acted[key], key  # T4 = T2 - T3
    return {"t2": len(t2), "t3": len(t3), "t4": len(t4)}


def test_books_add_up_after_build() -> None:
    with Simulator(seed=9, scale=1, v2=True, v2_decimals="string") as s:
        n = check_books(s)
        assert n["t2"] >= 4 and n["t3"] >= 2 and n["t4"] >= 1
        orgs = s.ledger.v2.orgs
        t1 = s.truth("aef_t1_submission", "v2")
        assert len({r["aefT1SubmissionParty"] for r in t1}) == len(orgs)  # one party per org
        cas = {r["aefT2AuthorizationsCooperativeApproachId"]
               for r in s.truth("aef_t2_authorizations", "v2")}
        t5 = {r["aefT5AuthorizedEntitiesCooperativeApproachId"]
              for r in s.truth("aef_t5_authorized_entities", "v2")}
        assert cas == t5  # every cooperative approach has its authorized entities


def test_books_add_up_under_activity() -> None:
    with Simulator(seed=13, scale=1, v2=True) as s:
        for round_ in range(4):
            s.random_activity(round_, 6, kinds=["v2_aef_actions", "v2_aef_authorize",
                                                 "v2_split", "v2_delete_projects",
                                                 "v2_delete_units", "v2_retire"])
            check_books(s)
        s.activity("v2_aef_actions", 40)  # drain: no authorization is ever overdrawn
        check_books(s)
        # units an action references survive unit and project deletions (reference guard)
        referenced = {x["cadTrustUnitId"] for x in s.truth("aef_t3_actions", "v2")}
        live = {u["cadTrustUnitId"] for u in s.truth("unit", "v2")}
        assert referenced <= live


def test_books_add_up_under_churn() -> None:
    with Simulator(seed=21, scale=1, v2=True) as s:
        def v2_gens() -> dict[str, int]:
            with s.ledger.lock:
                return {u: o.generation for u, o in s.ledger.v2.orgs.items()}

        gens = v2_gens()
        s.start_churn(interval_ms=5, kinds=["all"])
        try:  # until the churn has committed to a v2 store (a deadline, not a fixed sleep)
            deadline = time.monotonic() + 30
            while not any(g > gens.get(u, -1) for u, g in v2_gens().items()):
                assert time.monotonic() < deadline, "churn made no v2 commit in 30 s"
                time.sleep(0.01)
        finally:
            s.stop_churn()
        check_books(s)
