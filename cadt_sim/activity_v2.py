"""v2 activity: every kind is one commit on one org's v2 store, staged the way the newest v2
writer stages it (a project delete carries its children's DELETEs, a unit delete its unit
labels'; splits as ``UnitV2.split``; retirements with ``unitStatusDate``), plus the initial v2
history of the orgs that have a v2 store and the upgrade of a v1 organization.
"""

from __future__ import annotations

import random
from typing import Any

from .activity_base import ActivityBase, UnitKeys
from .datalayer import Op
from .generator_v2 import AUTHORS, BENEFICIARIES, BUYERS, HOSTS, FactoryV2, Registry
from .ledger import Ledger
from .ledger_v2 import OrgV2, V2Ledger
from .schema_v2 import BY_NAME, PROJECT_CASCADE

V2_CHURN_KINDS = ("v2_new_projects", "v2_issue_units", "v2_retire", "v2_cancel", "v2_split",
                  "v2_edit_projects", "v2_edit_units", "v2_add_children", "v2_remove_children",
                  "v2_delete_projects", "v2_delete_units", "v2_aef_authorize", "v2_aef_actions")
V2_KINDS = (*V2_CHURN_KINDS, "v2_new_org", "v2_audit_reset", "upgrade")
_LIVE = ("Held", "Issued", "Active")
UNIT_KEYS = UnitKeys("unit_start_block", "unit_end_block", "unit_serial_id", "unit_count",
                     "created_at", "updated_at")


class ActivityV2(ActivityBase):
    """Commits v2 activity; shared by the initial history, the admin API and churn."""

    authors = AUTHORS

    def __init__(self, ledger: Ledger, v2: V2Ledger, factory: FactoryV2, seed: int = 0) -> None:
        super().__init__(ledger, v2, random.Random(seed ^ 0xAC72))
        self.v2 = v2  # = self.store, as the v2 ledger
        self.f = factory

    # ---- helpers ----------------------------------------------------------------------------
    def orgs(self) -> list[str]:
        return sorted(self.v2.orgs)

    def _org(self, org: str | None) -> OrgV2:
        if org is None:
            if not self.v2.orgs:
                raise ValueError("no organization has a v2 store")
            return self.v2.orgs[self.rng.choice(self.orgs())]
        if org not in self.v2.orgs:
            raise ValueError(f"organization {org} has no v2 store")
        return self.v2.orgs[org]

    def _reg(self, o: OrgV2) -> Registry:
        reg = self.f.regs.get(o.org_uid)
        if reg is None:
            reg = self.f.registry(o.org_uid, len(self.f.regs), o.name)
        return reg

    def _kids(self, table: str, parent: str) -> list[str]:
        """Rows of a child table linked to ``parent`` through its org_path key (node view)."""
        return [pk for pk, rec in self.v2[table].rows.items() if rec.link == parent]

    # ---- dispatch ---------------------------------------------------------------------------
    def run(self, kind: str, count: int = 1, org: str | None = None,
            advance_s: int | None = None) -> dict[str, Any]:
        if kind not in V2_KINDS:
            raise ValueError(f"unknown v2 activity kind {kind!r}; one of {', '.join(V2_KINDS)}")
        with self.ledger.lock:
            if kind == "upgrade":
                return self.upgrade(org, max(1, count))
            if kind == "v2_new_org":
                return self.new_org(max(1, count))
            o = self._org(org)
            if kind == "v2_audit_reset":
                return self.v2.audit_reset(o, max(1, count))
            ops = getattr(self, "_" + kind[3:])(o, max(0, count))
            return self.commit(o, ops, f"{kind} x{count}", advance_s)

    # ---- publication ------------------------------------------------------------------------
    def publication(self, o: OrgV2, n_projects: int, units: int,
                    likes: list[tuple[dict, list[dict]]] | None = None) -> list[Op]:
        reg = self._reg(o)
        ops: list[Op] = []
        if not reg.programs:
            ops.extend(self.f.standalone(reg))
        per = max(1, units // max(1, n_projects))
        for i in range(n_projects):
            like, like_units = likes[i] if likes and i < len(likes) else (None, None)
            bundle, _ = self.f.project_bundle(reg, max(1, int(self.rng.expovariate(1 / per))),
                                              self._clock(), like, like_units)
            ops.extend(bundle)
        return ops

    def _new_projects(self, o: OrgV2, n: int) -> list[Op]:
        return self.publication(o, max(1, n), 8 * max(1, n))

    def _issue_units(self, o: OrgV2, n: int) -> list[Op]:
        reg = self._reg(o)
        picked = self._pick(o, "project", reg.projects, 1)
        if not picked:
            return self._new_projects(o, 1)
        pid, pv = picked[0]
        f, r = self.f, self.rng
        locs = self._kids("location", pid)
        pms = self._kids("project_methodology", pid)
        if not locs:
            return self._new_projects(o, 1)
        ver, iid = f.uuid(), f.uuid()
        proj_id = str(pv.get("project_id") or pid[:8])
        ops: list[Op] = [
            ("verification", ver, f.value(BY_NAME["verification"], {
                "cadTrustVerificationId": ver, "verificationId": f"{proj_id}-V{r.randint(3, 99)}",
                "verificationStartDate": f.date(2022, 2023),
                "verificationEndDate": f.date(2024, 2025),
                "verificationBody": f.pick("verification_body"), "cadTrustProjectId": pid,
                "createdByOrgUid": o.org_uid})),
            ("issuance", iid, f.value(BY_NAME["issuance"], {
                "cadTrustIssuanceId": iid, "issuanceId": f"{proj_id}-I{r.randint(3, 999)}",
                "issuanceDate": f.today(self._clock()), "cadTrustVerificationId": ver,
                "cadTrustProjectMethodologyId": r.choice(pms) if pms else None,
                "cadTrustLocationId": r.choice(locs), "createdByOrgUid": o.org_uid}))]
        ops.extend(f.units(reg, iid, proj_id, [None] * max(1, n), self._clock()))
        return ops

    # ---- units ------------------------------------------------------------------------------
    def _set_status(self, o: OrgV2, n: int, status: str) -> list[Op]:
        reg, f = self._reg(o), self.f
        ops: list[Op] = []
        for uid, v in self._pick(o, "unit", reg.units, n,
                                 lambda v: v.get("unit_status") in _LIVE):
            v = dict(v)
            v.pop("updated_at", None)
            today = f.today(self._clock())
            v["unit_status"] = status
            v["unit_status_date"] = today if self.rng.random() > 0.1 else today + "T09:30:00.000Z"
            if status == "Retired":
                ben, lei = self.rng.choice(BENEFICIARIES)
                v.update(unit_status_reason="Retired on behalf of " + ben,
                         unit_retirement_beneficiary=ben, unit_retirement_beneficiary_id=lei,
                         unit_retirement_detail=f"Offsetting {today[:4]} emissions")
            else:
                v["unit_status_reason"] = "Cancelled by registry"
            ops.append(("unit", uid, v))
        return ops

    def _split(self, o: OrgV2, n: int) -> list[Op]:
        """``UnitV2.split``: record 0 keeps the id, the others are copies with new UUIDs;
        blocks and serial id recomputed, the sum of unitCount preserved, no unit labels."""
        reg = self._reg(o)
        ops: list[Op] = []
        for _uid, v in self._pick(o, "unit", reg.units, n, self.splittable(UNIT_KEYS)):
            for i, rec in enumerate(self._split_copies(v, UNIT_KEYS)):
                if i == 1 and self.rng.random() < 0.3:
                    rec["unit_status"] = "Retired"
                    rec["unit_status_date"] = self.f.today(self._clock())
                    rec["unit_status_reason"] = "Partial retirement"
                if i > 0:
                    rec["cad_trust_unit_id"] = self.f.uuid()
                    reg.units.append(rec["cad_trust_unit_id"])
                    iss = str(v.get("cad_trust_issuance_id"))
                    reg.iss_units.setdefault(iss, []).append(rec["cad_trust_unit_id"])
                ops.append(("unit", rec["cad_trust_unit_id"], rec))
        return ops

    def _edit_units(self, o: OrgV2, n: int) -> list[Op]:
        reg, r = self._reg(o), self.rng
        ops: list[Op] = []
        for uid, v in self._pick(o, "unit", reg.units, n):
            v = dict(v)
            v["unit_current_owner"] = r.choice(["New Owner AG", "Ørsted A/S", None, "Buyer Ltd"])
            if r.random() < 0.2:
                v.update(marketplace="Tokenized on Chia",
                         marketplace_identifier=f"0x{r.getrandbits(128):032x}")
            ops.append(("unit", uid, v))
        return ops

    def _delete_units(self, o: OrgV2, n: int) -> list[Op]:
        """unit|id plus its unit_label DELETEs (``stageUnitChildDeletes``); AEF-referenced
        units are refused (409) by the writer, so never deleted."""
        reg = self._reg(o)
        ops: list[Op] = []
        for uid, _ in self._pick(o, "unit", reg.units, n, lambda v: True):
            if uid in reg.aef_units:
                continue
            ops.extend(("unit_label", lid, None) for lid in self._kids("unit_label", uid))
            ops.append(("unit", uid, None))
        return ops

    # ---- projects ---------------------------------------------------------------------------
    def _edit_projects(self, o: OrgV2, n: int) -> list[Op]:
        reg, f = self._reg(o), self.f
        ops: list[Op] = []
        for pid, v in self._pick(o, "project", reg.projects, n):
            v = dict(v)
            v.pop("updated_at", None)
            v["project_status"] = f.pick("project_status")
            v["project_status_date"] = f.today(self._clock())
            v["project_description"] = f"Updated {self.ledger.clock_s}: {v['project_status']}"
            ops.append(("project", pid, v))
        return ops

    def _add_children(self, o: OrgV2, n: int) -> list[Op]:
        reg, f, r = self._reg(o), self.f, self.rng
        ops: list[Op] = []
        for pid, _ in self._pick(o, "project", reg.projects, n):
            table = r.choice(("location", "rating", "co_benefit", "estimation",
                              "stakeholder_projects", "unit_label"))
            cid = f.uuid()
            spec = BY_NAME[table]
            a: dict[str, Any] = {spec.pk: cid, "cadTrustProjectId": pid,
                                 "createdByOrgUid": o.org_uid}
            if table == "location":
                a.update(locationCountry=reg.host[0], locationRegion="New district")
            elif table == "rating":
                a.update(ratingType=f.pick("rating_type"), ratingName="BeZero",
                         ratingValue=r.choice(["A", "BB", 3]))
            elif table == "co_benefit":
                a.update(coBenefitId=f.pick("co_benefit_id"))
            elif table == "estimation":
                a.update(estimationStartDate=f.date(2024, 2025),
                         estimationEndDate=f.date(2030, 2031),
                         estimationUnitCount=round(r.uniform(100, 1e5), 2))
            elif table == "stakeholder_projects" and reg.stakeholders:
                a.update(cadTrustStakeholderId=r.choice(reg.stakeholders))
            else:
                units = [u for u in reg.units[-50:] if self.v2.value(o, "unit", u)]
                if not units or not reg.labels:
                    continue
                a = {spec.pk: cid, "cadTrustUnitId": r.choice(units),
                     "cadTrustLabelId": r.choice(reg.labels),
                     "labelUnitDate": f.today(self._clock()),
                     "createdByOrgUid": o.org_uid}
            ops.append((table, cid, f.value(spec, a)))
        return ops

    def _remove_children(self, o: OrgV2, n: int) -> list[Op]:
        """Deletes children nothing references (not locations or project methodologies:
        issuances point at them)."""
        ops: list[Op] = []
        for table in self.rng.sample(("rating", "co_benefit", "estimation",
                                      "stakeholder_projects", "unit_label"), 5):
            for cid in self.v2.ids(o, table)[: max(0, n - len(ops))]:
                ops.append((table, cid, None))
        return ops[:max(1, n)]

    def _delete_projects(self, o: OrgV2, n: int) -> list[Op]:
        """The project DELETE with every child DELETE the writer stages
        (``stageProjectChildDeletes``); projects AEF rows reference are refused (409)."""
        reg = self._reg(o)
        ops: list[Op] = []

        def deletable(pid: str) -> bool:
            if pid in reg.aef_projects:
                return False
            for ver in self._kids("verification", pid):
                for iid in self._kids("issuance", ver):
                    if any(u in reg.aef_units for u in reg.iss_units.get(iid, ())):
                        return False
            return True

        for pid, _ in self._pick(o, "project", reg.projects, n,
                                 lambda v: deletable(v.get("cad_trust_project_id"))):
            for table in PROJECT_CASCADE:
                ops.extend((table, cid, None) for cid in self._kids(table, pid))
            for ver in self._kids("verification", pid):
                ops.append(("verification", ver, None))
                for iid in self._kids("issuance", ver):
                    ops.append(("issuance", iid, None))
                    for uid in reg.iss_units.get(iid, ()):
                        ops.append(("unit", uid, None))
                        ops.extend(("unit_label", lid, None)
                                   for lid in self._kids("unit_label", uid))
            ops.append(("project", pid, None))
        return ops

    # ---- AEF --------------------------------------------------------------------------------
    def _aef_authorize(self, o: OrgV2, n: int) -> list[Op]:
        reg = self._reg(o)
        if not reg.cas or self.rng.random() < 0.3:
            return self.f.aef_setup(reg, 1, self._clock())
        ops: list[Op] = []
        for _ in range(max(1, n)):
            ca = self.rng.choice(reg.cas)
            party = self.rng.choice(BUYERS)[1]
            ent = reg.t5.get(ca)
            ops.extend(self.f.authorization(reg, ca, party, self.rng.choice(ent) if ent else None,
                                            self._clock()))
        return ops

    def _aef_actions(self, o: OrgV2, n: int) -> list[Op]:
        """n T3 actions on authorizations with ITMOs left, each on a live unit of the org."""
        reg = self._reg(o)
        pools = [p for p in reg.pools.values() if p.remaining > 0]
        if not pools:
            return self._aef_authorize(o, 1)
        ops: list[Op] = []
        for _ in range(max(1, n)):
            pools = [p for p in pools if p.remaining > 0]
            if not pools:
                break
            pool = self.rng.choice(pools)
            ids = self._project_units(reg, pool.project) if pool.project else reg.units
            picked = self._pick(o, "unit", [u for u in ids if u not in reg.aef_units], 1,
                                lambda v: v.get("unit_status") in _LIVE)
            if not picked:
                continue
            uid, v = picked[0]
            aops, unit = self.f.action(reg, pool, uid, v, self._clock())
            ops.extend(aops)
            ops.append(("unit", uid, unit))
        return _last_wins(ops)

    def _project_units(self, reg: Registry, pid: str) -> list[str]:
        """A project's units: verification -> issuance -> unit."""
        return [u for ver in self._kids("verification", pid)
                for iid in self._kids("issuance", ver) for u in reg.iss_units.get(iid, ())]

    # ---- organizations ----------------------------------------------------------------------
    def history(self, o: OrgV2, n_projects: int, units: int,
                likes: list[tuple[dict, list[dict]]] | None = None, quote: bool = False) -> None:
        """The initial v2 history: publications, AEF books written by a pre-rename build
        (legacy T3/T4 spelling), then a newer build's edits, retirements, splits, deletions,
        more AEF actions and an empty generation."""
        reg = self._reg(o)
        day = 86400
        half = max(1, n_projects // 2)
        self.commit(o, self.publication(o, half, units // 2, likes), "Publication batch 1",
                    3 * day)
        comment = 'Publication batch 2 "final"' if quote else "Publication batch 2"
        self.commit(o, self.publication(o, n_projects - half, units - units // 2,
                                        (likes or [])[half:]), comment, 3 * day)
        self.commit(o, self.f.aef_setup(reg, 2, self._clock()), "AEF authorizations", day)
        self.commit(o, self._aef_actions(o, max(2, units // 40)), "AEF actions", day)
        reg.legacy = False
        u = len(reg.units)
        for kind, cnt in (("retire", max(2, u // 15)), ("split", max(1, u // 100)),
                          ("cancel", max(1, u // 60)), ("edit_projects", 1),
                          ("add_children", max(1, n_projects // 3)), ("aef_actions", 2),
                          ("remove_children", 1), ("delete_units", max(1, u // 200)),
                          ("delete_projects", 1), ("edit_units", max(1, u // 80))):
            self.commit(o, getattr(self, "_" + kind)(o, cnt), f"v2_{kind} x{cnt}", day)
        self.v2.commit(o, [], advance_s=3600)  # an empty generation -> NO CHANGE

    def next_name(self) -> str:
        """Named after the host party its registry will get."""
        i = len(self.f.regs)
        name = f"{HOSTS[i % len(HOSTS)][0]} Carbon Registry"
        return name if i < len(HOSTS) else f"{name} {i // len(HOSTS) + 1}"

    def new_org(self, n_projects: int = 3) -> dict[str, Any]:
        icon = f"https://icons.example.org/v2-{len(self.v2.orgs)}.png"
        o = self.v2.add_org(self.next_name(), icon)
        reg = self._reg(o)
        ops = self.publication(o, n_projects, 8 * n_projects)
        res = self.commit(o, ops, "Initial publication")
        reg.legacy = False
        return res

    def upgrade(self, org: str | None, n_projects: int = 3) -> dict[str, Any]:
        """A v1-only organization gets a fresh v2 store (same orgUid) and republishes some of
        its v1 projects and their units in v2 form."""
        led = self.ledger
        if org is None:
            cands = [u for u in led.orgs if u not in self.v2.orgs]
            if not cands:
                raise ValueError("every v1 organization already has a v2 store")
            org = self.rng.choice(sorted(cands))
        if org not in led.orgs:
            raise ValueError(f"organization {org} has no v1 store")
        if org in self.v2.orgs:
            raise ValueError(f"organization {org} already has a v2 store")
        o = self.v2.add_org("", "", v1=led.orgs[org])
        reg = self._reg(o)
        res = self.commit(o, self.publication(o, n_projects, 8 * n_projects,
                                              v1_projects(led, org, n_projects)),
                          "Upgrade to data model v2")
        reg.legacy = False
        return res


def _last_wins(ops: list[Op]) -> list[Op]:
    """One write per key (a holding updated by several actions of one commit: the last)."""
    last: dict[tuple[str, str | None], Op] = {}
    for op in ops:
        last.pop((op[0], op[1]), None)
        last[(op[0], op[1])] = op
    return list(last.values())


def v1_projects(led: Ledger, org: str, n: int) -> list[tuple[dict, list[dict]]]:
    """Up to n of an org's v1 projects with their v1 units (through their issuances)."""
    o = led.orgs[org]
    projects, issuances, units = [], {}, []
    for key, _vb in o.kv.items():
        prefix = key.partition("|")[0]
        if prefix == "project" and len(projects) < n:
            projects.append(led.value(o, "project", key.partition("|")[2]))
        elif prefix == "issuances":
            v = led.value(o, "issuances", key.partition("|")[2]) or {}
            issuances[v.get("id")] = v.get("warehouseProjectId")
        elif prefix == "unit":
            units.append(key.partition("|")[2])
    by_project: dict[str, list[dict]] = {}
    want = {p["warehouseProjectId"] for p in projects if p}
    for uid in units:
        v = led.value(o, "unit", uid) or {}
        pid = issuances.get(v.get("issuanceId"))
        if pid in want:
            by_project.setdefault(pid, []).append(v)
    return [(p, by_project.get(p["warehouseProjectId"], [])[:200]) for p in projects if p]


def build_v2(ledger: Ledger, seed: int, scale: float, decimals: str = "number",
             delete_null_share: float = 0.5, mode: bool | str = True) -> ActivityV2 | None:
    """Attach the v2 side to a built v1 ledger (``mode`` False: none, a 1.7.24 node). With
    True the last v1 org also publishes v2 and one org publishes v2 only (so there are
    v1-only, v2-only and both); "empty" starts with no v2 store."""
    if mode not in (False, True, "empty"):
        raise ValueError("v2 must be False, True or 'empty'")
    if mode is False:
        return None
    v2 = V2Ledger(ledger, seed, decimals, delete_null_share)
    ledger.v2 = v2
    act = ActivityV2(ledger, v2, FactoryV2(seed), seed)
    if mode == "empty":
        return act
    v2.begin_bulk()
    n_projects = max(3, round(6 * scale))
    units = max(40, round(200 * scale))
    if ledger.orgs:
        last = list(ledger.orgs)[-1]
        o = v2.add_org("", "", v1=ledger.orgs[last], upgrade=False)
        act.history(o, n_projects, units, v1_projects(ledger, last, n_projects // 2))
    o = v2.add_org(act.next_name(), "https://icons.example.org/v2-0.png",
                   {"website": "https://registry.example.org/a6"})
    act.history(o, n_projects, units, quote=True)
    v2.epoch += 1
    return act
