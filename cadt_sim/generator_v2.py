"""Deterministic, realistic CADT v2 records: snake_case DataLayer values as a v2 writer stages
them, and the Article 6 AEF books of each registry kept consistent by construction.

AEF model (per organization = one host party): T5 entities and T1 submissions per cooperative
approach; each T2 authorization (cooperative approach x acquiring party) owns an ITMO id range
of its quantity; T3 actions (first transfers, uses, cancellations) take consecutive, disjoint
sub-ranges of it and never exceed it; one T4 holding per authorization holds what is left
(deleted at zero), so per cooperative approach and party ``T4 = T2 - T3`` after every commit.
Units referenced by an action carry its ITMO range in ``unit_itmos_reference_id``.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

import orjson

from .generator import Draws
from .schema_v2 import BY_NAME, LEGACY_RENAMES, TS, V2Table, snake

HOSTS = [("Ghana", "GH"), ("Rwanda", "RW"), ("Vanuatu", "VU"), ("Peru", "PE"),
         ("Thailand", "TH"), ("Senegal", "SN"), ("Kenya", "KE"), ("Chile", "CL")]
BUYERS = [("Switzerland", "CH"), ("Singapore", "SG"), ("Japan", "JP"), ("Sweden", "SE"),
          ("Norway", "NO")]
AUTHORS = ["registry-bot", "registry-bot", "registry-bot", "a6-desk@registry.example",
           "Kofi Mensah"]
SDG_ODD = ["SDG 7 - Affordable and clean energy ", "sdg 13", "SDG 15 – Life on land"]
BENEFICIARIES = [("Swiss International Air Lines AG", "529900T8BM49AURSDO55"),
                 ("Klik Foundation", "5067008S7SN1U3WJIH83"),
                 ("Mitsui & Co., Ltd.", "2138002ICDVBHZ1BTK70"),
                 ("Ørsted A/S", "W9NG6WMZIYEU8VEDOG48"), ("n.a.", None)]
STATUS_MIX = (("Held", 0.55), ("Issued", 0.2), ("Retired", 0.12), ("Buffer", 0.05),
              ("Cancelled", 0.03), ("Expired", 0.02), ("Inactive", 0.01), ("Active", 0.02))


@cache
def dictionary() -> dict:
    """CAD Trust's v2.0.2 data dictionary (pick lists, insert order), bundled."""
    txt = resources.files("cadt_sim").joinpath("data/cadt-v2-schema-2.0.2.json").read_text(
        "utf-8")
    return orjson.loads(txt)


@cache
def picklists() -> dict[str, list[str]]:
    """The dictionary's pick lists (lists only: ``label_name`` is free text)."""
    return {k: v for k, v in dictionary()["picklists"].items() if isinstance(v, list)}


@dataclass
class Pool:
    """One T2 authorization's ITMO id range and how much of it the T3 actions took."""

    t2: str
    ca: str
    auth_id: str
    party: str
    qty: int
    base: int
    next: int
    project: str | None
    t1: str | None
    holding: str | None = None

    @property
    def remaining(self) -> int:
        return self.base + self.qty - self.next


@dataclass
class Registry:
    """What one v2 writer knows about its own store (ids to pick from, AEF pools)."""

    org: str
    host: tuple[str, str]
    prefix: str
    registry_name: str
    legacy: bool = True  # T3/T4 values use the pre-rename "coopoerative" key until flipped
    programs: list[str] = field(default_factory=list)
    methodologies: list[str] = field(default_factory=list)
    stakeholders: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    projects: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    cas: list[str] = field(default_factory=list)
    t1: list[str] = field(default_factory=list)
    t5: dict[str, list[str]] = field(default_factory=dict)
    pools: dict[str, Pool] = field(default_factory=dict)
    aef_units: set[str] = field(default_factory=set)  # referenced by AEF rows: no delete
    aef_projects: set[str] = field(default_factory=set)
    iss_units: dict[str, list[str]] = field(default_factory=dict)  # issuance -> unit ids
    itmo_hi: int = 0
    serial_hi: dict[str, int] = field(default_factory=dict)
    project_no: int = 5000


Op = tuple[str, str, dict | None]


class FactoryV2(Draws):
    """Builds v2 values; its own RNG so v2 never changes the v1 data of a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed ^ 0x2A2A)
        self.pl = picklists()
        self.regs: dict[str, Registry] = {}

    # ---- primitives -------------------------------------------------------------------------
    def date(self, y0: int, y1: int, iso_p: float = 0.1) -> str:
        """Writers send YYYY-MM-DD; some send a full timestamp (the node keeps the date)."""
        r = self.rng
        s = f"{r.randint(y0, y1)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return s + "T00:00:00.000Z" if r.random() < iso_p else s

    @staticmethod
    def today(clock_s: int) -> str:
        return time.strftime("%Y-%m-%d", time.gmtime(clock_s))

    def pick(self, key: str) -> str:
        return self.rng.choice(self.pl[key])

    def value(self, spec: V2Table, attrs: dict[str, Any], legacy: bool = False) -> dict:
        """A DataLayer value: snake_case keys in column order (a sparse older writer omits
        nulls; a legacy one writes the misspelled T3/T4 key); sometimes the writer's own
        updated_at, which the node drops."""
        r = self.rng
        sparse = r.random() < 0.15
        renames = {v: k for k, v in LEGACY_RENAMES.get(spec.name, {}).items()} if legacy else {}
        out: dict[str, Any] = {}
        for col, typ in spec.columns:
            if typ == TS:
                continue
            v = attrs.get(col)
            if v is None and sparse and col != spec.pk:
                continue
            out[snake(renames.get(col, col))] = v
        if "createdAt" in attrs:
            out["created_at"] = attrs["createdAt"]
        if r.random() < 0.1:
            out["updated_at"] = "2022-06-30T12:00:00.000Z"
        return out

    def registry(self, org: str, index: int, name: str) -> Registry:
        host = HOSTS[index % len(HOSTS)]
        reg = Registry(org, host, f"{host[1]}CR", name, legacy=True)
        reg.project_no += 1000 * index
        self.regs[org] = reg
        return reg

    # ---- standalone tables ------------------------------------------------------------------
    def standalone(self, reg: Registry, n_programs: int = 2) -> list[Op]:
        """Programs, methodologies, stakeholders, labels: orgUid only on newer rows."""
        r, org = self.rng, reg.org
        ops: list[Op] = []

        def owner() -> str | None:
            return org if r.random() < 0.8 else None

        for i in range(n_programs):
            pid = self.uuid()
            reg.programs.append(pid)
            ops.append(("program", pid, self.value(BY_NAME["program"], {
                "cadTrustProgramId": pid,
                "programName": r.choice(["Clean Cooking Programme", "Jurisdictional REDD+",
                                         "Solar Home Systems PoA", "Mangrove Restoration"]),
                "programRegistry": reg.registry_name,
                "programRegistryActivityId": f"{reg.prefix}-PA-{100 + i}",
                "programRegistryProgramId": self.maybe(0.3, f"PRG{r.randint(1000, 9999)}"),
                "programDescription": self.maybe(0.5, "Programme of activities under Article 6.2"),
                "orgUid": owner()})))
        for code, name in (("VM0042", "Improved Agricultural Land Management"),
                           ("AMS-I.E.", "Switch from non-renewable biomass for thermal "
                                        "applications"),
                           ("GS-MMECD", "Metered & Measured Energy Cooking Devices"),
                           ("ACM0002", "Grid-connected electricity generation from renewable "
                                       "sources")):
            if r.random() < 0.25 and reg.methodologies:
                continue
            mid = self.uuid()
            reg.methodologies.append(mid)
            ops.append(("methodology", mid, self.value(BY_NAME["methodology"], {
                "cadTrustMethodologyId": mid, "methodologyCode": code, "methodologyName": name,
                "methodologyVersion": r.choice(["1.0", "2.1", "19.0", 3]),
                "methodologyDate": self.maybe(0.3, self.date(2010, 2022)),
                "methodologyLink": f"https://methodologies.example.org/{code.lower()}",
                "methodologyType": self.pick("methodology_type"), "orgUid": owner()})))
        for name, typ in (("South Pole", "Developer"), ("EcoAct", "Consultant"),
                          ("Ministry of Environment", "Owner"),
                          ("Coopérative Agricole du Nord", "Owner"), ("ClimeCo", None)):
            sid = self.uuid()
            reg.stakeholders.append(sid)
            ops.append(("stakeholder", sid, self.value(BY_NAME["stakeholder"], {
                "cadTrustStakeholderId": sid, "stakeholderName": name, "stakeholderType": typ,
                "stakeholderLink": self.maybe(0.4, "https://stakeholders.example.org/" + sid[:6]),
                "orgUid": owner()})))
        for name, typ in (("CORSIA Eligible", "Article 6 - Authorisation"),
                          ("ICVCM CCP", "Certification"),
                          ("Letter of Authorization " + reg.host[0],
                           "Article 6 - Letter of Approvals"),
                          ("SD VISta", "Certification")):
            lid = self.uuid()
            reg.labels.append(lid)
            ops.append(("label", lid, self.value(BY_NAME["label"], {
                "cadTrustLabelId": lid, "labelName": name, "labelType": typ,
                "labelLink": self.maybe(0.3, "https://labels.example.org/" + lid[:8]),
                "labelDate": self.date(2020, 2024), "orgUid": owner()})))
        return ops

    # ---- projects ---------------------------------------------------------------------------
    def project_bundle(self, reg: Registry, n_units: int, clock_s: int,
                       like: dict | None = None, like_units: list[dict] | None = None
                       ) -> tuple[list[Op], str]:
        """A project and all its children, issuances, units and unit labels. ``like`` is a
        v1 project of the same org (an upgraded registry republishing it in v2)."""
        r, org = self.rng, reg.org
        pid = self.uuid()
        reg.project_no += 1
        country = reg.host[0] if r.random() < 0.8 else self.pick("location_country")
        sector = r.sample(self.pl["project_sector"], r.choice((1, 1, 2)))
        ptype = r.sample(self.pl["project_type"], r.choice((1, 1, 2)))
        sector_v: Any = orjson.dumps(sector).decode()
        if r.random() < 0.05:
            sector_v = sector[0]  # legacy plain string: served as a 1-element array
        elif r.random() < 0.03:
            sector_v = None
        name = (like or {}).get("projectName") or (
            f"{country} {r.choice(['Cookstoves', 'Solar', 'Mangroves', 'Rice Methane', 'Hydro'])}"
            f" Project {reg.project_no}")
        proj_id = str((like or {}).get("projectId") or f"{reg.prefix}-{reg.project_no}")
        desc_p = r.random()
        ops: list[Op] = [("project", pid, self.value(BY_NAME["project"], {
            "cadTrustProjectId": pid, "orgUid": org,
            "projectRegistryName": (like or {}).get("currentRegistry") or reg.registry_name,
            "projectId": proj_id,
            "projectCreditingProgram": self.maybe(0.3, r.choice(["VCS", "GS4GG", "A6.2"])),
            "projectName": name,
            "projectLink": (like or {}).get("projectLink")
            or f"https://registry.example.org/{reg.prefix.lower()}/{reg.project_no}",
            "projectDescription": None if desc_p < 0.3 else
            ("Долгое описание / 長い説明 " * 80)[:1990] if desc_p < 0.33
            else f"{name}.",
            "projectSector": sector_v, "projectType": orjson.dumps(ptype).decode(),
            "projectSubtype": self.maybe(0.6, "Household devices"),
            "projectStatus": self.pick("project_status") if r.random() > 0.03 else "Approved",
            "projectStatusDate": self.date(2015, 2024),
            "projectUnitMetric": "tCO2e" if r.random() > 0.05 else None,
            "cadTrustReferenceProjectId": self.maybe(0.7, f"VER-{reg.project_no}-C0234"),
            "cadTrustProgramId": self.maybe(0.4, r.choice(reg.programs)) if reg.programs
            else None}))]
        by = {"cadTrustProjectId": pid, "createdByOrgUid": org}

        def child(table: str, attrs: dict) -> str:
            cid = self.uuid()
            spec = BY_NAME[table]
            a = {spec.pk: cid, **by, **attrs}
            if r.random() < 0.12:
                a["createdByOrgUid"] = None  # created before created_by_org_uid existed
            if r.random() < 0.1:
                a["createdAt"] = f"{r.randint(2021, 2023)}-0{r.randint(1, 9)}-1{r.randint(0, 9)}" \
                                 "T08:00:00.000Z"
            ops.append((table, cid, self.value(spec, a)))
            return cid

        locs = [child("location", {
            "locationCountry": country, "locationRegion": self.maybe(0.4, "Northern Region"),
            "locationGis": self.maybe(0.5, f"{r.uniform(-30, 30):.5f},{r.uniform(-80, 120):.5f}"),
            "locationMapType": self.maybe(0.5, self.pick("location_map_type")),
            "locationMapFileLink": self.maybe(0.6, "https://maps.example.org/" + pid[:8])})
            for _ in range(r.choice((1, 1, 2)))]
        pms = [child("project_methodology", {
            "cadTrustMethodologyId": m,
            "projectMethodologyDate": self.maybe(0.3, self.date(2016, 2023)),
            "projectMethodologyDescription": self.maybe(0.5, "Applied since registration")})
            for m in r.sample(reg.methodologies, min(len(reg.methodologies), r.choice((1, 1, 2))))]
        val = child("validation", {
            "validationId": f"{proj_id}-VAL{r.randint(1, 99)}",
            "validationType": self.pick("validation_type"),
            "validationBody": self.pick("validation_body"), "validationDate": self.date(2016, 2022),
            "validationCreditPeriodStartDate": self.date(2016, 2019),
            "validationCreditPeriodEndDate": self.date(2026, 2030)})
        for _ in range(r.choice((0, 1, 1, 2))):
            child("estimation", {
                "estimationStartDate": self.date(2018, 2021),
                "estimationEndDate": self.date(2025, 2030),
                "estimationUnitCount": r.choice((r.randint(1000, 900000),
                                                 round(r.uniform(10, 5e5), 6),
                                                 f"{r.randint(1000, 90000)}.500000")),
                "estimationReferenceNo": self.maybe(0.4, f"E{r.randint(10000, 99999)}")})
        if r.random() < 0.4:
            child("rating", {"ratingType": self.pick("rating_type"),
                             "ratingName": r.choice(["BeZero", "Sylvera", "Calyx"]),
                             "ratingValue": r.choice(["AA", "BBB", 4, "A-", 3.5]),
                             "ratingLink": self.maybe(0.3, "https://ratings.example.org/x")})
        for _ in range(r.choice((0, 1, 2))):
            child("co_benefit", {"coBenefitId": self.pick("co_benefit_id") if r.random() > 0.05
                                 else r.choice(SDG_ODD)})
        for s in r.sample(reg.stakeholders, min(len(reg.stakeholders), r.choice((1, 2)))):
            child("stakeholder_projects", {"cadTrustStakeholderId": s})
        reg.projects.append(pid)
        # verifications -> issuances -> units
        groups = self._unit_groups(like_units, n_units)
        for k, group in enumerate(groups):
            ver = child("verification", {
                "verificationId": f"{proj_id}-V{k + 1}",
                "verificationStartDate": self.date(2018, 2021),
                "verificationEndDate": self.date(2021, 2023),
                "verificationBody": self.pick("verification_body"),
                "cadTrustValidationId": val if r.random() < 0.9 else None})
            iid = self.uuid()
            ops.append(("issuance", iid, self.value(BY_NAME["issuance"], {
                "cadTrustIssuanceId": iid, "issuanceId": f"{proj_id}-V{k + 1}-I{k + 1}",
                "issuanceDate": self.date(2021, 2024), "cadTrustVerificationId": ver,
                "cadTrustProjectMethodologyId": r.choice(pms) if pms else None,
                "cadTrustLocationId": r.choice(locs), "createdByOrgUid": org})))
            ops.extend(self.units(reg, iid, proj_id, group, clock_s))
        return ops, pid

    def _unit_groups(self, like_units: list[dict] | None, n: int) -> list[list[dict | None]]:
        if like_units:
            by_iss: dict[str, list[dict | None]] = {}
            for u in like_units:
                by_iss.setdefault(str(u.get("issuanceId")), []).append(u)
            return list(by_iss.values())
        k = 1 if n < 30 else 2
        return [[None] * (n // k + (1 if i < n % k else 0)) for i in range(k)]

    def units(self, reg: Registry, iid: str, proj_id: str, group: list[dict | None],
              clock_s: int) -> list[Op]:
        """Unit blocks of one issuance (from v1 units when republishing them)."""
        r, org = self.rng, reg.org
        vintage = r.randint(2016, 2024)
        skey = f"{proj_id}-{vintage}"
        pos = reg.serial_hi.get(skey, 0)
        ops: list[Op] = []
        for like in group:
            uid = self.uuid()
            if like is not None:
                start, end = like.get("unitBlockStart"), like.get("unitBlockEnd")
                serial, count = like.get("serialNumberBlock"), like.get("unitCount")
                vint, status = _year(like.get("vintageYear")), _v2_status(like.get("unitStatus"))
            else:
                size = r.choice((1, 10, 100, 250, 1000, 2500, 5000, 10000))
                start, end = f"{skey}-{pos + 1}", f"{skey}-{pos + size}"
                pos += size
                serial, count, vint = f"{start}-{end}", size, vintage
                x, status = r.random(), "Held"
                for s, p in STATUS_MIX:
                    if x < p:
                        status = s
                        break
                    x -= p
                if r.random() < 0.01:
                    count = size - 0.5  # a partial tonne (DECIMAL)
            a = {"cadTrustUnitId": uid, "orgUid": org, "unitSerialId": serial,
                 "unitStartBlock": start, "unitEndBlock": end,
                 "unitCount": count if r.random() > 0.05 else str(count),
                 "unitType": self.pick("unit_type"),
                 "unitVintageYear": vint if r.random() > 0.05 else str(vint),
                 "unitStatus": status, "unitStatusReason": None,
                 "unitStatusDate": self.date(vint, max(vint, 2024)) if status != "Held"
                 or r.random() < 0.5 else None,
                 "unitLink": self.maybe(0.2, f"https://registry.example.org/units/{uid[:8]}"),
                 "unitMetric": "tCO2e", "unitCurrentOwner": self.maybe(0.3, r.choice(
                     ["Registry Holding Account", "Shell Energy", "South Pole"])),
                 "cadTrustIssuanceId": iid}
            if status == "Retired":
                ben, lei = r.choice(BENEFICIARIES)
                a.update(unitStatusReason="Voluntary retirement", unitRetirementBeneficiary=ben,
                         unitRetirementBeneficiaryId=lei,
                         unitRetirementDetail=self.maybe(0.3, f"Retired for {ben} FY2024"))
            if r.random() < 0.02:
                a.update(marketplace="Tokenized on Chia",
                         marketplaceIdentifier=f"0x{r.getrandbits(128):032x}",
                         marketplaceLink="https://market.example.org/cat")
            elif r.random() < 0.01:
                a.update(marketplaceIdentifier=f"0x{r.getrandbits(64):016x}")  # NULL marketplace
            ops.append(("unit", uid, self.value(BY_NAME["unit"], a)))
            reg.units.append(uid)
            reg.iss_units.setdefault(iid, []).append(uid)
            if reg.labels and r.random() < 0.25:
                lid = self.uuid()
                ops.append(("unit_label", lid, self.value(BY_NAME["unit_label"], {
                    "cadTrustUnitLabelId": lid, "cadTrustUnitId": uid,
                    "cadTrustLabelId": r.choice(reg.labels),
                    "labelUnitDate": self.date(2021, 2024),
                    "labelUnitDescription": self.maybe(0.5, "Eligible"),
                    "createdByOrgUid": self.maybe(0.1, org)})))
        reg.serial_hi[skey] = pos
        return ops

    # ---- AEF --------------------------------------------------------------------------------
    def aef_setup(self, reg: Registry, n_cas: int, clock_s: int) -> list[Op]:
        """Cooperative approaches with their T5 entities, T1 submissions, T2 authorizations
        (one per approach and acquiring party) and a T4 holding of each full authorization."""
        r, org = self.rng, reg.org
        ops: list[Op] = []
        host, code = reg.host
        year = int(self.today(clock_s)[:4])
        if not reg.t1:
            for ry in (year - 1, year):
                tid = self.uuid()
                reg.t1.append(tid)
                ops.append(("aef_t1_submission", tid, self.value(BY_NAME["aef_t1_submission"], {
                    "cadTrustAefT1SubmissionId": tid, "aefT1SubmissionParty": host,
                    "aefT1SubmissionVersion": r.choice(("1", "1.1", 2)),
                    "aefT1SubmissionReportYear": ry,
                    "aefT1SubmissionSubmissionDate": f"{ry}-04-15",
                    "aefT1SubmissionReviewStatus": self.maybe(0.5, "Under review"),
                    "aefT1SubmissionResultCheck": self.maybe(0.7, "Consistent"),
                    "aefT1SubmissionNdcFirstYear": 2021, "aefT1SubmissionNdcLastYear": 2030,
                    "aefT1SubmissionReferenceReviewReport": self.maybe(
                        0.6, "https://unfccc.example.org/a6/report"),
                    "orgUid": self.maybe(0.2, org)})))
        for _ in range(n_cas):
            ca = f"{code}-CA-{year}-{len(reg.cas) + 1:03d}"
            reg.cas.append(ca)
            buyers = r.sample(BUYERS, 2)
            for bname, bcode in buyers:
                eid = self.uuid()
                reg.t5.setdefault(ca, []).append(eid)
                t5_project = self.maybe(0.5, self.a6_project(reg))
                ops.append(("aef_t5_authorized_entities", eid, self.value(
                    BY_NAME["aef_t5_authorized_entities"], {
                        "cadTrustAefT5AuthorizedEntitiesId": eid,
                        "aefT5AuthorizedEntitiesAuthorizationDate": self.date(year - 1, year, 0),
                        "aefT5AuthorizedEntitiesName": f"{bname} Carbon Fund",
                        "aefT5AuthorizedEntitiesIncorporationCountry": bname,
                        "aefT5AuthorizedEntitiesId": f"{bcode}-AE-{r.randint(1, 99):03d}",
                        "aefT5AuthorizedEntitiesCooperativeApproachId": ca,
                        "aefT5AuthorizedEntitiesConditions": self.maybe(0.5, "Use towards NDC"),
                        "cadTrustProjectId": t5_project, "createdByOrgUid": org})))
                if t5_project:
                    reg.aef_projects.add(t5_project)
                ops.extend(self.authorization(reg, ca, bcode, eid, clock_s))
        return ops

    def a6_project(self, reg: Registry) -> str | None:
        """AEF rows point at the registry's first (Article 6) projects only, so the others
        stay deletable (the writer refuses to delete a referenced project)."""
        return self.rng.choice(reg.projects[:max(1, len(reg.projects) // 3)]) \
            if reg.projects else None

    def authorization(self, reg: Registry, ca: str, party: str, entity: str | None,
                      clock_s: int) -> list[Op]:
        r, org = self.rng, reg.org
        tid = self.uuid()
        qty = r.choice((25_000, 50_000, 100_000, 250_000)) + r.randint(0, 99) * 100
        base = reg.itmo_hi + 1
        reg.itmo_hi += qty
        project = self.a6_project(reg) if r.random() < 0.75 else None
        pool = Pool(tid, ca, f"{reg.host[1]}-AUTH-{len(reg.pools) + 1:03d}", party, qty, base,
                    base, project, r.choice(reg.t1) if reg.t1 else None)
        reg.pools[tid] = pool
        if project:
            reg.aef_projects.add(project)
        spec = BY_NAME["aef_t2_authorizations"]
        ops: list[Op] = [("aef_t2_authorizations", tid, self.value(spec, {
            "cadTrustAefT2AuthorizationsId": tid, "aefT2AuthorizationsId": pool.auth_id,
            "aefT2AuthorizationsDate": self.today(clock_s),
            "aefT2AuthorizationsCooperativeApproachId": ca,
            "aefT2AuthorizationsVersion": r.choice(("1.0", "1.0", 2)),
            "aefT2AuthorizationsQuantity": qty if r.random() > 0.2 else str(qty),
            "aefT2AuthorizationsMetric": self.pick("aef_t2_authorizations_metric"),
            "aefT2AuthorizationsGwpValue": "100-year values from 5th IPCC assessment",
            "aefT2AuthorizationsSector": self.pick("aef_t2_authorizations_sector"),
            "aefT2AuthorizationsActivityType": self.pick("aef_t2_authorizations_activity_type"),
            "aefT2AuthorizationsPurposesForAuthorization": self.pick(
                "aef_t2_authorizations_purposes_for_authorization"),
            "aefT2AuthorizationsAuthorizedPartyId": party,
            "aefT2AuthorizationsAuthoziedEntityId": self.maybe(0.3, f"{party}-AE"),
            "aefT2AuthorizationsAuthorizedTimeframe": "2021 to 2030",
            "aefT2AuthorizationsAuthorizationDocumentation": self.maybe(
                0.4, "https://a6.example.org/loa/" + tid[:8]),
            "aefT2AuthorizationsFirstTransferDefinitionOimp": self.maybe(
                0.5, self.pick("aef_t2_authorizations_first_transfer_definition_oimp")),
            "cadTrustAefT1SubmissionId": pool.t1, "cadTrustProjectId": project,
            "cadTrustAefT5AuthorizedEntitiesId": entity, "createdByOrgUid": org}))]
        ops.extend(self.holding(reg, pool))
        return ops

    def holding(self, reg: Registry, pool: Pool) -> list[Op]:
        """The T4 holding of what is left of an authorization (deleted when nothing is)."""
        if pool.holding is None:
            pool.holding = self.uuid()
        if pool.remaining <= 0:
            return [("aef_t4_holdings", pool.holding, None)]
        host = reg.host[1]
        last = pool.base + pool.qty - 1
        return [("aef_t4_holdings", pool.holding, self.value(BY_NAME["aef_t4_holdings"], {
            "cadTrustAefT4HoldingsId": pool.holding,
            "aefT4HoldingsCooperativeApproachId": pool.ca,
            "aefT4HoldingsAuthorizationId": pool.auth_id,
            "aefT4HoldingsFirstTransferringPartyId": host,
            "aefT4HoldingsPartyItmoRegistryId": host,
            "aefT4HoldingsItmoFirstId": str(pool.next), "aefT4HoldingsItmoLastId": str(last),
            "aefT4HoldingsUnitRegistryId": reg.prefix,
            "aefT4HoldingsUnitFirstId": f"{reg.prefix}-{pool.next}",
            "aefT4HoldingsUnitLastId": f"{reg.prefix}-{last}",
            "aefT4HoldingsMetric": "GHC", "aefT4HoldingsQuantityTCo2": pool.remaining,
            "aefT4HoldingsMitigationType": "Emission reductions",
            "aefT4HoldingsVintageYear": 2023, "cadTrustAefT1SubmissionId": pool.t1,
            "cadTrustProjectId": pool.project,
            "cadTrustAefT2AuthorizationsId": pool.t2, "createdByOrgUid": reg.org},
            legacy=reg.legacy))]

    def action(self, reg: Registry, pool: Pool, unit_id: str, unit: dict, clock_s: int
               ) -> tuple[list[Op], dict]:
        """One T3 action drawing the next ITMO ids of the pool (at most what is left), the
        T4 update it implies, and the unit's new value (ITMO reference, status)."""
        r = self.rng
        try:
            want = int(float(unit.get("unit_count") or 1))
        except (TypeError, ValueError):
            want = 1
        q = max(1, min(want, pool.remaining))
        first, last = pool.next, pool.next + q - 1
        pool.next += q
        kind = r.choices(("First Transfer", "Use", "Cancellation"), (6, 2, 2))[0]
        host = reg.host[1]
        today = self.today(clock_s)
        vint = unit.get("unit_vintage_year")
        tid = self.uuid()
        rtype = str(unit.get("unit_type") or "")
        a = {"cadTrustAefT3ActionsId": tid, "aefT3ActionsDate": today, "aefT3ActionsType": kind,
             "aefT3ActionsSubtype": self.maybe(0.6, "Issuance-linked"),
             "aefT3ActionsCooperativeApproachId": pool.ca,
             "aefT3ActionsAuthorizationId": pool.auth_id,
             "aefT3ActionsFirstTransferringPartyId": host,
             "aefT3ActionsPartyItmoRegistryId": host,
             "aefT3ActionsItmoFirstId": str(first), "aefT3ActionsItmoLastId": str(last),
             "aefT3ActionsUnitRegistryId": reg.prefix,
             "aefT3ActionsUnitFirstId": unit.get("unit_start_block"),
             "aefT3ActionsUnitLastId": unit.get("unit_end_block"),
             "aefT3ActionsMetric": "GHC",
             "aefT3ActionsGwpValue": "100-year values from 5th IPCC assessment",
             "aefT3ActionsQuantityTCo2": q if r.random() > 0.15 else f"{q}.0",
             "aefT3ActionsMitigationType": "Removals" if rtype.startswith("Removal")
             else "Emission reductions",
             "aefT3ActionsVintageYear": vint,
             "aefT3ActionsTransferringPartyId": host, "aefT3ActionsAcquiringPartyId": pool.party,
             "aefT3ActionsPurposeOfUseOimp": "CORSIA" if kind == "Use" else None,
             "aefT3ActionsUsingParticipatingPartyId": pool.party if kind == "Use" else None,
             "aefT3ActionsItmoUsedYear": int(today[:4]) if kind == "Use" else None,
             "aefT3ActionsConsistencyCheckResult": self.maybe(0.5, "Consistent"),
             "cadTrustAefT1SubmissionId": pool.t1, "cadTrustUnitId": unit_id,
             "cadTrustProjectId": pool.project, "cadTrustAefT2AuthorizationsId": pool.t2,
             "createdByOrgUid": reg.org}
        ops: list[Op] = [("aef_t3_actions", tid, self.value(BY_NAME["aef_t3_actions"], a,
                                                            legacy=reg.legacy))]
        ops.extend(self.holding(reg, pool))
        u = dict(unit)
        u["unit_itmos_reference_id"] = f"{pool.ca}-{host}-{pool.party}-{first}-{last}-{vint}"
        if kind == "Use":
            u.update(unit_status="Retired", unit_status_date=today,
                     unit_status_reason="Used towards CORSIA")
        elif kind == "Cancellation":
            u.update(unit_status="Cancelled", unit_status_date=today,
                     unit_status_reason="Cancelled for OMGE")
        else:
            u["unit_current_owner"] = f"{pool.party} national registry"
        u.pop("updated_at", None)
        reg.aef_units.add(unit_id)
        return ops, u


def _year(v: Any) -> int:
    try:
        return min(2030, max(1990, int(float(v))))
    except (TypeError, ValueError):
        return 2020


def _v2_status(v1: Any) -> Any:
    """v1 unitStatus -> the v2 pick list ('Active' became 'Held'; 'Exported' has no v2 value)."""
    return {"Active": "Held", "Exported": "Inactive", "Pending Export": "Held"}.get(v1, v1)
