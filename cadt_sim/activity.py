"""Activity: realistic commits on the ledger (the admin API's verbs) and the initial history.

Every kind turns into ONE DataLayer commit on one org (except new_org, audit_reset, remove_org),
built from the org's current key/value state the way the real CADT writer stages it.
"""

from __future__ import annotations

import random
from typing import Any

from .activity_base import ActivityBase, UnitKeys
from .activity_v2 import V2_CHURN_KINDS, V2_KINDS, ActivityV2
from .datalayer import Op
from .generator import ORG_NAMES, Factory
from .ledger import Ledger, Org

KINDS = ("new_projects", "issue_units", "retire", "cancel", "split", "edit_projects",
         "edit_units", "add_children", "remove_children", "delete_projects", "delete_units",
         "new_org", "audit_reset", "remove_org")
ALL_KINDS = (*KINDS, *V2_KINDS)  # v2 kinds (activity_v2) commit on an org's v2 store
CHURN_KINDS = ("new_projects", "issue_units", "retire", "cancel", "split", "edit_projects",
               "edit_units", "add_children", "remove_children", "delete_projects",
               "delete_units")
#: names a kinds list may use for a group: churn/random_activity default to "v1"
KIND_GROUPS = {"v1": CHURN_KINDS, "v2": V2_CHURN_KINDS, "all": CHURN_KINDS + V2_CHURN_KINDS}
CHILD_PREFIXES = ("projectLocations", "labels", "issuances", "coBenefits", "relatedProjects",
                  "projectRatings", "estimations")
AUTHORS = ["registry-bot", "ops@registry.example", "Jürgen Müller", "system"]
UNIT_KEYS = UnitKeys("unitBlockStart", "unitBlockEnd", "serialNumberBlock", "unitCount",
                     "createdAt", "updatedAt")


class Activity(ActivityBase):
    """Commits activity of a given kind; shared by the initial history, admin API and churn."""

    authors = AUTHORS

    def __init__(self, ledger: Ledger, factory: Factory, seed: int = 0) -> None:
        super().__init__(ledger, ledger, random.Random(seed ^ 0xAC7))
        self.f = factory
        self.v2: ActivityV2 | None = None  # attached by activity_v2.build_v2

    def expand_kinds(self, kinds: list[str] | None) -> list[str]:
        """A kinds list with the group names of KIND_GROUPS expanded (None = v1 churn)."""
        out: list[str] = []
        for k in kinds or ["v1"]:
            out.extend(KIND_GROUPS.get(k, (k,)))
        return out

    def orgs_for(self, kind: str) -> list[str]:
        """The orgs a kind can run on: v2 kinds need a v2 store."""
        if kind in V2_KINDS:
            return self.v2.orgs() if self.v2 is not None else []
        return sorted(self.ledger.orgs)

    # ---- helpers ----------------------------------------------------------------------------
    def _org(self, org: str | None) -> Org:
        if org is not None:
            return self.ledger.orgs[org]
        return self.ledger.orgs[self.rng.choice(sorted(self.ledger.orgs))]

    # ---- kinds ------------------------------------------------------------------------------
    def run(self, kind: str, count: int = 1, org: str | None = None,
            advance_s: int | None = None) -> dict[str, Any]:
        if kind not in ALL_KINDS:
            raise ValueError(f"unknown activity kind {kind!r}; one of {', '.join(ALL_KINDS)}")
        if kind in V2_KINDS:
            if self.v2 is None:
                raise ValueError("this simulator has no v2 side")
            return self.v2.run(kind, count, org, advance_s)
        with self.ledger.lock:
            if kind == "new_org":
                return self.new_org(count)
            if kind == "remove_org":
                return self.remove_org(org)
            if kind == "audit_reset":
                return self.ledger.audit_reset(self._org(org), max(1, count))
            o = self._org(org)
            ops = getattr(self, "_" + kind)(o, max(0, count))
            return self.commit(o, ops, f"{kind} x{count}", advance_s)

    def project_ops(self, o: Org, n_projects: int, units_per_project: float,
                    copies: list[dict] | None = None) -> list[Op]:
        f, r, ts = self.f, self.f.rng, self._clock()
        ops: list[Op] = []
        for i in range(n_projects):
            copy_of = copies[i] if copies and i < len(copies) else None
            pops, pid = f.project_bundle(o.orgUid, ts, copy_of)
            ops.extend(pops)
            n_units = int(r.expovariate(1 / units_per_project)) + 1 if units_per_project else 0
            n_iss = min(4, max(1, n_units // 40 + r.choice((0, 1))))
            vint = r.randint(2012, 2023)
            for k in range(n_iss):
                iid, iv = f.issuance(o.orgUid, pid, vint + k)
                ops.append(("issuances", iid, iv))
                share = n_units // n_iss + (1 if k < n_units % n_iss else 0)
                if share and (r.random() < 0.01 or not f.no_issuance_done):
                    iid, f.no_issuance_done = None, True  # units without issuance
                ops.extend(f.unit_blocks(o.orgUid, pid, iid, vint + k, share, ts))
        return ops

    def _new_projects(self, o: Org, n: int) -> list[Op]:
        return self.project_ops(o, max(1, n), 5)

    def _issue_units(self, o: Org, n: int) -> list[Op]:
        picked = self._pick(o, "project", self.f.projects.get(o.orgUid, []), 1)
        if not picked:
            return self._new_projects(o, 1)
        pid, _ = picked[0]
        vint = self.f.rng.randint(2018, 2024)
        iid, iv = self.f.issuance(o.orgUid, pid, vint)
        return [("issuances", iid, iv),
                *self.f.unit_blocks(o.orgUid, pid, iid, vint, max(1, n), self._clock(), False)]

    def _set_status(self, o: Org, n: int, status: str) -> list[Op]:
        ops: list[Op] = []
        for uid, v in self._pick(o, "unit", self.f.units.get(o.orgUid, []), n,
                                 lambda v: v.get("unitStatus") == "Held"):
            v = dict(v)
            v["unitStatus"] = status
            v["unitStatusReason"] = (f"{status} on behalf of Beneficiary {uid[:6]}"
                                     if status == "Retired" else "Cancelled by registry")
            ops.append(("unit", uid, v))
        return ops

    def _split(self, o: Org, n: int) -> list[Op]:
        """POST /v1/units/split: record 0 keeps the id, the others are deep copies with new ids."""
        ops: list[Op] = []
        lu_t = self.ledger.db["label_unit"]
        for uid, v in self._pick(o, "unit", self.f.units.get(o.orgUid, []), n,
                                 self.splittable(UNIT_KEYS)):
            pieces = self._split_copies(v, UNIT_KEYS)
            iss = self.ledger.value(o, "issuances", v["issuanceId"]) if v.get("issuanceId") else None
            label_ids = [lu_t.rows[x].extra for x in lu_t.by_parent.get(uid, ())]
            labels = [lv for lv in (self.ledger.value(o, "labels", x) for x in label_ids if x) if lv]
            for i, rec in enumerate(pieces):
                if iss is not None:
                    rec["issuance"] = iss
                if labels:
                    rec["labels"] = labels
                if i == 1 and self.rng.random() < 0.3:
                    rec["unitStatus"] = "Retired"
                    rec["unitStatusReason"] = "Partial retirement"
                if i > 0:
                    rec["warehouseUnitId"] = self.f.uuid()
                    self.f.units[o.orgUid].append(rec["warehouseUnitId"])
                    for lab in label_ids:
                        luid = self.f.uuid()
                        ops.append(("label_units", luid, {
                            "id": luid, "orgUid": o.orgUid,
                            "warehouseUnitId": rec["warehouseUnitId"], "labelId": lab}))
                ops.append(("unit", rec["warehouseUnitId"], rec))
        return ops

    def _edit_projects(self, o: Org, n: int) -> list[Op]:
        ops: list[Op] = []
        for pid, v in self._pick(o, "project", self.f.projects.get(o.orgUid, []), n):
            v = dict(v)
            v["projectStatus"] = self.rng.choice(["Registered", "Completed", "Withdrawn",
                                                  "De-registered", "Transitioned"])
            v["projectStatusDate"] = self.f.date(2023, 2025)
            v["description"] = f"Updated {self.ledger.clock_s}: status {v['projectStatus']}"
            ops.append(("project", pid, v))
        return ops

    def _edit_units(self, o: Org, n: int) -> list[Op]:
        ops: list[Op] = []
        for uid, v in self._pick(o, "unit", self.f.units.get(o.orgUid, []), n):
            v = dict(v)
            v["unitOwner"] = self.rng.choice(["New Owner AG", "Ørsted A/S", None, "Buyer Ltd"])
            v["correspondingAdjustmentStatus"] = self.rng.choice(["Pending", "Completed"])
            ops.append(("unit", uid, v))
        return ops

    def _add_children(self, o: Org, n: int) -> list[Op]:
        ops: list[Op] = []
        for pid, _ in self._pick(o, "project", self.f.projects.get(o.orgUid, []), n):
            cid = self.f.uuid()
            if self.rng.random() < 0.5:
                ops.append(("coBenefits", cid, {"cobenefit": self.f.pick("coBenefits", 0),
                                                "id": cid, "orgUid": o.orgUid,
                                                "warehouseProjectId": pid}))
            else:
                ops.append(("projectRatings", cid, {
                    "ratingType": "BeZero", "ratingRangeHighest": "AAA", "ratingRangeLowest": "D",
                    "rating": self.rng.choice(["A", "BB", "C"]),
                    "ratingLink": "https://ratings.example.org/new", "id": cid,
                    "orgUid": o.orgUid, "warehouseProjectId": pid}))
        return ops

    def _remove_children(self, o: Org, n: int) -> list[Op]:
        ops: list[Op] = []
        db = self.ledger.db
        for pid, _ in self._pick(o, "project", self.f.projects.get(o.orgUid, []), n * 3):
            for prefix in CHILD_PREFIXES:
                spec_name = prefix
                kids = db[spec_name].by_parent.get(pid, [])
                if kids and prefix != "issuances":
                    ops.append((prefix, kids[0], None))
                    break
            if len(ops) >= n:
                break
        return ops

    def _delete_projects(self, o: Org, n: int) -> list[Op]:
        """Deletes only ``project|id``: children stay behind as orphans (like the real one)."""
        return [("project", pid, None)
                for pid, _ in self._pick(o, "project", self.f.projects.get(o.orgUid, []), n)]

    def _delete_units(self, o: Org, n: int) -> list[Op]:
        """Deletes ``unit|id`` only; its label_units stay behind."""
        return [("unit", uid, None)
                for uid, _ in self._pick(o, "unit", self.f.units.get(o.orgUid, []), n)]

    def new_org(self, n_projects: int = 3) -> dict[str, Any]:
        names = [x for x in ORG_NAMES if x not in {o.name for o in self.ledger.orgs.values()}]
        name = names[0] if names else f"Registry {len(self.ledger.orgs) + 1}"
        o = self.ledger.add_org(name, f"https://icons.example.org/{len(self.ledger.orgs)}.png")
        return self.commit(o, self.project_ops(o, max(1, n_projects), 5), "Initial publication")

    def remove_org(self, org: str | None) -> dict[str, Any]:
        if org is None:
            small = sorted(self.ledger.orgs, key=lambda u: len(self.f.projects.get(u, [])))
            org = small[0]
        changed = self.ledger.remove_org(org)
        return {"orgUid": org, "generation": None, "changed": changed}

    def random(self, rng_seed: int, rounds: int = 1, kinds: list[str] | None = None
               ) -> list[dict[str, Any]]:
        """``rounds`` random kinds (``kinds`` as for churn: default the v1 churn kinds)."""
        r = random.Random(rng_seed)
        ks = self.expand_kinds(kinds)
        out = []
        for _ in range(rounds):
            kind = r.choice(ks)
            orgs = self.orgs_for(kind)
            if orgs:
                org = r.choice(orgs)
                out.append(self.run(kind, r.randint(1, 5), org))
        return out


def build(seed: int = 0, scale: float = 1) -> tuple[Ledger, Activity]:
    """The initial state: orgs with several generations each (publication, then edits)."""
    ledger = Ledger(seed)
    factory = Factory(seed)
    act = Activity(ledger, factory, seed)
    n_orgs = max(3, min(12, int(scale)))
    n_projects = max(6, round(20 * scale))
    units_pp = 1000 * scale / n_projects
    shares = [0.6] + [0.4 / (n_orgs - 1)] * (n_orgs - 1)
    for t in ledger.db.tables.values():
        t.begin_bulk()
    orgs = [ledger.add_org(ORG_NAMES[i], f"https://icons.example.org/{i}.png",
                           {"website": f"https://registry{i}.example.org"} if i % 2 else {})
            for i in range(n_orgs)]
    for i, o in enumerate(orgs):
        np_org = max(2, round(n_projects * shares[i]))
        batches = 3 if np_org >= 3 else 1
        for b in range(batches):
            cnt = np_org // batches + (1 if b < np_org % batches else 0)
            copies = None
            if i == 1 and b == 0 and factory.published:
                copies = factory.published[: max(1, cnt // 5)]
            ops = act.project_ops(o, cnt, units_pp, copies)
            act.commit(o, ops, f"Publication batch {b + 1}", advance_s=86400 * 3)
        u = len(factory.units.get(o.orgUid, []))
        for kind, cnt in (("retire", max(2, u // 20)), ("split", max(1, u // 200)),
                          ("cancel", max(1, u // 100)), ("edit_projects", max(1, np_org // 20)),
                          ("add_children", max(1, np_org // 30)),
                          ("delete_projects", 1), ("delete_units", max(1, u // 500)),
                          ("remove_children", 1), ("edit_units", max(1, u // 200))):
            act.commit(o, getattr(act, "_" + kind)(o, cnt), f"{kind} x{cnt}", 86400)
        ledger.commit(o, [], advance_s=3600)  # an empty generation -> NO CHANGE
    for t in ledger.db.tables.values():
        t.build_index()  # now rather than on the first request
    ledger.db.epoch += 1
    return ledger, act
