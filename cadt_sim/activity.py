"""Activity: realistic commits on the ledger (the admin API's verbs) and the initial history.

Every kind turns into ONE DataLayer commit on one org (except new_org, audit_reset, remove_org),
built from the org's current key/value state the way the real CADT writer stages it.
"""

from __future__ import annotations

import copy
import random
from typing import Any

from .activity_v2 import V2_CHURN_KINDS, V2_KINDS, ActivityV2
from .generator import ORG_NAMES, Factory
from .ledger import Ledger, Op, Org

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


class Activity:
    """Commits activity of a given kind; shared by the initial history, admin API and churn."""

    def __init__(self, ledger: Ledger, factory: Factory, seed: int = 0) -> None:
        self.ledger = ledger
        self.f = factory
        self.rng = random.Random(seed ^ 0xAC7)
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

    def _ts(self) -> int:
        return self.ledger.clock_s + 1

    def _pick(self, org: Org, prefix: str, ids: list[str], n: int,
              pred: Any = None) -> list[tuple[str, dict]]:
        """n distinct live records of the org (values decoded from the ledger)."""
        out: list[tuple[str, dict]] = []
        seen: set[str] = set()
        tries = 0
        while ids and len(out) < n and tries < n * 30 + 50:
            tries += 1
            rid = ids[self.rng.randrange(len(ids))]
            if rid in seen:
                continue
            v = self.ledger.value(org, prefix, rid)
            if v is None or (pred is not None and not pred(v)):
                continue
            seen.add(rid)
            out.append((rid, v))
        return out

    def _commit(self, org: Org, ops: list[Op], comment: str, advance_s: int | None = None
                ) -> dict[str, Any]:
        return self.ledger.commit(org, ops, comment=comment, author=self.rng.choice(AUTHORS),
                                  advance_s=advance_s)

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
                return self.audit_reset(self._org(org), max(1, count))
            o = self._org(org)
            ops = getattr(self, "_" + kind)(o, max(0, count))
            return self._commit(o, ops, f"{kind} x{count}", advance_s)

    def project_ops(self, o: Org, n_projects: int, units_per_project: float,
                    copies: list[dict] | None = None) -> list[Op]:
        f, r, ts = self.f, self.f.rng, self._ts()
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
                *self.f.unit_blocks(o.orgUid, pid, iid, vint, max(1, n), self._ts(), False)]

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

    def _retire(self, o: Org, n: int) -> list[Op]:
        return self._set_status(o, n, "Retired")

    def _cancel(self, o: Org, n: int) -> list[Op]:
        return self._set_status(o, n, "Cancelled")

    def _split(self, o: Org, n: int) -> list[Op]:
        """POST /v1/units/split: record 0 keeps the id, the others are deep copies with new ids."""
        ops: list[Op] = []
        lu_t = self.ledger.db["label_unit"]
        for uid, v in self._pick(o, "unit", self.f.units.get(o.orgUid, []), n,
                                 lambda v: isinstance(v.get("unitCount"), int)
                                 and v["unitCount"] >= 2):
            total = v["unitCount"]
            parts = 2 if total < 3 or self.rng.random() < 0.7 else 3
            cuts = sorted(self.rng.sample(range(1, total), parts - 1))
            counts = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
            start = str(v.get("unitBlockStart") or "")
            head, _, num = start.rpartition("-")
            base = int(num) if num.isdigit() else None
            iss = self.ledger.value(o, "issuances", v["issuanceId"]) if v.get("issuanceId") else None
            label_ids = [lu_t.rows[x].extra for x in lu_t.by_parent.get(uid, ())]
            labels = [lv for lv in (self.ledger.value(o, "labels", x) for x in label_ids if x) if lv]
            off = 0
            for i, c in enumerate(counts):
                rec = copy.deepcopy(v)
                rec.pop("createdAt", None)
                rec.pop("updatedAt", None)
                if base is not None:
                    rec["unitBlockStart"] = f"{head}-{base + off}"
                    rec["unitBlockEnd"] = f"{head}-{base + off + c - 1}"
                else:
                    rec["unitBlockStart"] = f"{start}/{i + 1}"
                    rec["unitBlockEnd"] = f"{v.get('unitBlockEnd')}/{i + 1}"
                rec["serialNumberBlock"] = f"{rec['unitBlockStart']}-{rec['unitBlockEnd']}"
                rec["unitCount"] = c
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
                off += c
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
        return self._commit(o, self.project_ops(o, max(1, n_projects), 5), "Initial publication")

    def remove_org(self, org: str | None) -> dict[str, Any]:
        if org is None:
            small = sorted(self.ledger.orgs, key=lambda u: len(self.f.projects.get(u, [])))
            org = small[0]
        changed = self.ledger.remove_org(org)
        return {"orgUid": org, "generation": None, "changed": changed}

    def audit_reset(self, o: Org, k: int) -> dict[str, Any]:
        dropped = self.ledger.audit_reset_begin(o, k)
        self.ledger.audit_reset_finish(o, dropped)
        return {"orgUid": o.orgUid, "generation": o.generation, "changed": {"audit": len(dropped)}}

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
            act._commit(o, ops, f"Publication batch {b + 1}", advance_s=86400 * 3)
        u = len(factory.units.get(o.orgUid, []))
        for kind, cnt in (("retire", max(2, u // 20)), ("split", max(1, u // 200)),
                          ("cancel", max(1, u // 100)), ("edit_projects", max(1, np_org // 20)),
                          ("add_children", max(1, np_org // 30)),
                          ("delete_projects", 1), ("delete_units", max(1, u // 500)),
                          ("remove_children", 1), ("edit_units", max(1, u // 200))):
            act._commit(o, getattr(act, "_" + kind)(o, cnt), f"{kind} x{cnt}", 86400)
        ledger.commit(o, [], advance_s=3600)  # an empty generation -> NO CHANGE
    for t in ledger.db.tables.values():
        t.end_bulk()
    ledger.db.epoch += 1
    return ledger, act
