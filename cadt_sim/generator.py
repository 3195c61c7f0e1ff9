"""Deterministic, realistic and messy CADT v1 records (values as a writer stages them).

The values carry what real data carries: pick-list values and values outside the lists, nulls,
odd unicode, very long text, numbers where strings are expected, date-only strings, Article 6
labels, ratings, serial blocks (a few overlapping), units without issuance, and the same real
project published by two organizations.
"""

from __future__ import annotations

import json
import random
from functools import cache
from importlib import resources
from typing import Any

REG_PREFIX = {
    "Verra": "VCS", "Gold Standard": "GS", "CDM Registry": "CDM", "Global Carbon Council": "GCC",
    "American Carbon Registry (ACR)": "ACR", "Climate Action Reserve (CAR)": "CAR",
    "Cercarbono": "CCB", "EcoRegistry": "ECO", "Switzerland National Registry": "CH",
    "Singapore National Registry": "SG", "BioCarbon Registry": "BCR", "Tero Carbon": "TERO",
    "Asia Carbon Institute": "ACI", "Royal Kingdom of Bhutan": "BT",
    "Thailand Carbon Credit Registry": "TGO", "Article 6.4 Mechanism Registry": "A64",
}
ORG_NAMES = [
    "Verra Registry Bridge", "Gold Standard Registry", "Global Carbon Council",
    "Switzerland National Registry", "BioCarbon Registry", "Royal Kingdom of Bhutan",
    "Cercarbono", "Thailand Carbon Credit Registry", "CDM Registry", "American Carbon Registry",
    "Climate Action Reserve", "Singapore National Registry", "Asia Carbon Institute",
    "Tero Carbon", "EcoRegistry", "Chile National Registry",
]
ODD_NAMES = [
    "Projet hydroélectrique de Nam Ngum — 水力发电 🌊",
    "Cookstoves\u200b Kenya (zero\u200dwidth)",
    "مشروع طاقة الرياح في الزعفرانة",
    "Ṁëẗḧäṅë Ċäṗẗüṙë “quoted” ‘single’ \\ backslash",
    "Line\nbreak\tand tab project",
    "   leading and trailing spaces   ",
    "<script>alert('x')</script> & \"Robert'); DROP TABLE projects;--",
    "Ñandú Reforestación 🌳🌳🌳",
]
OFF_LIST = {
    "unitStatus": ["For Sale", "active", "Retired ", "retired"],
    "projectStatus": ["Approved", "Authorized", "Validated", "registered"],
    "country": ["Côte d’Ivoire", "Viet Nam", "Türkiye", "Lao PDR", "Congo (DRC)"],
    "unitType": ["Avoidance - nature", "Not Determined"],
    "sector": ["Energy industries (renewable-/ non renewable sources)", "Forestry & Land Use"],
    "projectType": ["Hydro", "Wind", "Solar", "Cookstoves"],
}
LABELS_A6 = [
    ("Letter of Authorization", "Article 6.2 Authorization – {c} / Switzerland"),
    ("Letter of Approval", "Letter of Approval – Host Party {c}"),
    ("Letter of Qualification", "CORSIA Eligible Emissions Units (2024-2026)"),
    ("Certification", "CCB Gold"),
    ("Certification", "ICVCM CCP-Approved"),
    ("Endorsement", "SD VISta"),
]
RATINGS = {
    "BeZero": ("AAA", "D", ["AAA", "AA", "A", "BBB", "BB", "B", "C", "D"]),
    "Sylvera": ("AAA", "D", ["AAA", "AA", "A", "BBB", "BB", "B"]),
    "CCQI": ("5", "1", ["1", "1.5", "2.5", "3", "4", "4.5"]),
    "MAAP": ("100", "0", ["55", "72", "90"]),
    "CDP": ("A", "D-", ["A", "B", "C", "D-"]),
}
VERIFIERS = ["SCS Global Services", "DNV", "TÜV SÜD", "Bureau Veritas", "Earthood", "RINA",
             "4K Earth Science", "Aster Global", "", None]
APPROACHES = ["Standard", "Desk review", "Site visit", "Rule-based", "Sample Approach"]


@cache
def picklist() -> dict[str, list[str]]:
    """The v1 governance pick list (the server's bundled stub, as served)."""
    txt = resources.files("cadt_sim").joinpath("data/pickList.json").read_text("utf-8")
    return json.loads(txt)


class Draws:
    """Random primitives of a value factory (v1 and v2), drawn from its own ``rng``."""

    rng: random.Random

    def uuid(self) -> str:
        h = f"{self.rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"

    def maybe(self, p: float, v: Any, other: Any = None) -> Any:
        return v if self.rng.random() >= p else other


class Factory(Draws):
    """Builds values for one ledger; keeps per-org id lists so activity can pick records."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        pl = picklist()
        self.pl = pl
        self.countries = pl["countries"]
        self.methodologies = pl["methodology"]
        self.registries = [r for r in pl["registries"]] + [
            "BioCarbon Registry", "Tero Carbon", "Asia Carbon Institute",
            "Royal Kingdom of Bhutan", "Thailand Carbon Credit Registry",
        ]
        self.project_no = 1000
        self.serial_hi: dict[str, int] = {}
        self.projects: dict[str, list[str]] = {}  # org -> project ids
        self.units: dict[str, list[str]] = {}  # org -> unit ids
        self.issuances: dict[str, list[tuple[str, str]]] = {}  # org -> [(issuanceId, projectId)]
        self.project_labels: dict[str, list[str]] = {}  # projectId -> label ids
        self.project_meta: dict[str, tuple[str, str, str]] = {}  # pid -> (prefix, projNo, country)
        self.published: list[dict] = []  # candidates for "same project, second org"
        self.no_issuance_done = False

    # ---- primitives -------------------------------------------------------------------------
    def date(self, y0: int, y1: int, date_only_p: float = 0.03) -> str:
        r = self.rng
        s = f"{r.randint(y0, y1)}-{r.randint(1, 12):02d}-{r.randint(1, 28):02d}"
        return s if r.random() < date_only_p else s + "T00:00:00.000Z"

    def pick(self, key: str, off_p: float = 0.02, off_key: str | None = None) -> str:
        r = self.rng
        if r.random() < off_p and (off_key or key) in OFF_LIST:
            return r.choice(OFF_LIST[off_key or key])
        return r.choice(self.pl[key])

    # ---- projects ---------------------------------------------------------------------------
    def project_bundle(self, org: str, ts: int, copy_of: dict | None = None
                       ) -> tuple[list[tuple[str, str, dict]], str]:
        """A project value and all its children as DataLayer ops."""
        r = self.rng
        pid = self.uuid()
        self.project_no += 1
        registry = r.choice(self.registries) if copy_of is None else copy_of["registryOfOrigin"]
        prefix = REG_PREFIX.get(registry, "REG")
        origin = str(self.project_no) if copy_of is None else copy_of["originProjectId"]
        country = self.pick("countries", 0.03, "country")
        if r.random() < 0.1 or self.project_no % 7 == 3:
            name = r.choice(ODD_NAMES)
        else:
            name = f"{country} {r.choice(['Hydro', 'Wind', 'Cookstoves', 'REDD+', 'Landfill Gas', 'Mangrove', 'Solar', 'Biogas', 'Forest'])} Project {origin}"
        desc_p = r.random()
        if desc_p < 0.005:
            description: Any = ("Very long description. " * 1200)[: r.randint(8000, 26000)]
        elif desc_p < 0.4:
            description = None
        else:
            description = f"{name}: emission reductions in {country}."
        proj: dict[str, Any] = {
            "projectId": f"{prefix}-{origin}" if r.random() > 0.05 else int(origin),
            "originProjectId": origin if r.random() > 0.08 else int(origin) if origin.isdigit() else origin,
            "registryOfOrigin": registry,
            "currentRegistry": self.maybe(0.1, registry),
            "program": self.maybe(0.5, r.choice(["VCS", "GS4GG", "CDM", "JCM", "n.a."])),
            "projectName": name,
            "projectLink": f"https://registry.example.org/{prefix.lower()}/{origin}",
            "projectDeveloper": r.choice(["n.a.", "South Pole", "ClimeCo", "Ecosecurities",
                                          "Carbon Clear Ltd", "ÉcoFutur SARL", "Local NGO"]),
            "sector": self.pick("projectSector", 0.03, "sector"),
            "projectType": self.pick("projectType", 0.03),
            "projectTags": self.maybe(0.6, r.choice(self.pl["projectTags"])),
            "coveredByNDC": self.pick("coveredByNDC", 0),
            "ndcInformation": self.maybe(0.7, "Counted toward host NDC"),
            "projectStatus": self.pick("projectStatusValues", 0.03, "projectStatus"),
            "projectStatusDate": self.date(2012, 2024),
            "unitMetric": "tCO2e",
            "methodology": r.choice(self.methodologies) if r.random() > 0.03 else "n.a.",
            "methodology2": self.maybe(0.85, r.choice(self.methodologies)),
            "validationBody": self.maybe(0.3, r.choice(self.pl["validationBody"])),
            "validationDate": self.maybe(0.3, self.date(2010, 2023)),
            "description": description,
            "warehouseProjectId": pid,
            "timeStaged": ts,
            "orgUid": org,
        }
        ops: list[tuple[str, str, dict]] = [("project", pid, proj)]
        base = {"orgUid": org, "warehouseProjectId": pid}
        for _ in range(r.choice((1, 1, 1, 2, 3))):
            lid = self.uuid()
            geo: Any = f"{r.uniform(-40, 50):.4f},{r.uniform(-120, 150):.4f}"
            if r.random() < 0.05:
                geo = round(r.uniform(-90, 90), 3)
            ops.append(("projectLocations", lid, {
                "country": country, "inCountryRegion": self.maybe(0.5, r.choice(["North", "Para", "Rift Valley", "Sichuan", "Région Centre"])),
                "geographicIdentifier": geo, "fileId": None, "id": lid, **base}))
        labels = []
        for _ in range(r.choice((0, 0, 1, 1, 2))):
            lt, text = r.choice(LABELS_A6)
            lab = self.uuid()
            labels.append(lab)
            ops.append(("labels", lab, {
                "label": text.format(c=country), "labelType": lt,
                "creditingPeriodStartDate": self.date(2015, 2020),
                "creditingPeriodEndDate": self.date(2025, 2030),
                "validityPeriodStartDate": self.date(2015, 2020, 0.3),
                "validityPeriodEndDate": self.date(2025, 2035),
                "unitQuantity": r.randint(100, 500000), "labelLink": "https://labels.example.org/" + lab[:8],
                "id": lab, **base}))
        self.project_labels[pid] = labels
        for _ in range(r.choice((0, 1, 1, 2))):
            cid = self.uuid()
            ops.append(("coBenefits", cid, {"cobenefit": self.pick("coBenefits", 0), "id": cid, **base}))
        if r.random() < 0.2:
            rid = self.uuid()
            ops.append(("relatedProjects", rid, {
                "relatedProjectId": f"GS-{r.randint(100, 9999)}", "relationshipType": self.maybe(0.3, "Duplicate listing"),
                "registry": self.maybe(0.4, "Gold Standard"), "id": rid, **base}))
        if r.random() < 0.3:
            rt = r.choice(list(RATINGS))
            hi, lo, vals = RATINGS[rt]
            qid = self.uuid()
            ops.append(("projectRatings", qid, {
                "ratingType": rt, "ratingRangeHighest": hi, "ratingRangeLowest": lo,
                "rating": r.choice(vals), "ratingLink": f"https://ratings.example.org/{qid[:6]}",
                "id": qid, **base}))
        for _ in range(r.choice((0, 1, 1, 2))):
            eid = self.uuid()
            ops.append(("estimations", eid, {
                "creditingPeriodStart": self.date(2015, 2020), "creditingPeriodEnd": self.date(2025, 2030),
                "unitCount": r.randint(1000, 2_000_000), "id": eid, **base}))
        self.projects.setdefault(org, []).append(pid)
        self.project_meta[pid] = (prefix, origin, country)
        if copy_of is None and (r.random() < 0.03 or not self.published):
            self.published.append({"registryOfOrigin": registry, "originProjectId": origin})
        return ops, pid

    def issuance(self, org: str, pid: str, vintage: int) -> tuple[str, dict]:
        r = self.rng
        iid = self.uuid()
        val = {
            "warehouseProjectId": pid, "startDate": f"{vintage}-01-01T00:00:00.000Z",
            "endDate": f"{vintage}-12-31T00:00:00.000Z",
            "verificationApproach": r.choice(APPROACHES),
            "verificationReportDate": self.date(vintage + 1, vintage + 2),
            "verificationBody": r.choice(VERIFIERS), "id": iid, "orgUid": org,
        }
        if val["verificationBody"] is None:
            del val["verificationBody"]
        self.issuances.setdefault(org, []).append((iid, pid))
        return iid, val

    def unit_blocks(self, org: str, pid: str, iid: str | None, vintage: int, n: int, ts: int,
                    status_mix: bool = True) -> list[tuple[str, str, dict]]:
        """n consecutive unit blocks of one issuance (a few overlap the previous block)."""
        r = self.rng
        prefix, origin, country = self.project_meta.get(pid, ("REG", "0", "Kenya"))
        skey = f"{prefix}-{origin}-{vintage}"
        pos = self.serial_hi.get(skey, 0)
        ops: list[tuple[str, str, dict]] = []
        labels = self.project_labels.get(pid, [])
        units = self.units.setdefault(org, [])
        ca_d, ca_s = self.pl["correspondingAdjustmentDeclaration"], self.pl["correspondingAdjustmentStatus"]
        for _ in range(n):
            size = r.choice((1, 10, 50, 100, 250, 500, 1000, 5000, 10000, 25000))
            start = pos + 1
            if r.random() < 0.003 and pos > 10:
                start = pos - r.randint(1, min(pos - 1, 50))  # overlapping range (real mess)
            end = start + size - 1
            pos = max(pos, end)
            uid = self.uuid()
            bs, be = f"{skey}-{start}", f"{skey}-{end}"
            status = "Held"
            if status_mix:
                x = r.random()
                status = ("Held" if x < 0.8 else "Retired" if x < 0.9 else "Buffer" if x < 0.93
                          else "Cancelled" if x < 0.95 else "Expired" if x < 0.96
                          else "Exported" if x < 0.97 else r.choice(OFF_LIST["unitStatus"]))
            v: dict[str, Any] = {
                "unitOwner": r.choice(("n.a.", "Registry Holding Account", "Shell Energy",
                                       "Delta Air Lines", "South Pole", None)),
                "countryJurisdictionOfOwner": country,
                "inCountryJurisdictionOfOwner": None,
                "vintageYear": vintage,
                "unitType": self.pick("unitType", 0.01),
                "marketplace": None,
                "marketplaceLink": None,
                "marketplaceIdentifier": None,
                "unitTags": None,
                "unitStatus": status,
                "unitStatusReason": ("Retired on behalf of Example Corp " + uid[:4]) if status == "Retired" else None,
                "unitRegistryLink": f"https://registry.example.org/{prefix.lower()}/units/{uid[:8]}",
                "correspondingAdjustmentDeclaration": r.choice(ca_d) if r.random() > 0.05 else None,
                "correspondingAdjustmentStatus": r.choice(ca_s),
                "unitBlockStart": bs, "unitBlockEnd": be, "unitCount": size,
                "warehouseUnitId": uid, "timeStaged": ts, "serialNumberBlock": f"{bs}-{be}",
                "orgUid": org, "issuanceId": iid,
                "projectLocationId": None,
            }
            if r.random() < 0.02:
                v["marketplace"] = "Tokenized on Chia"
                v["marketplaceIdentifier"] = f"0x{r.getrandbits(128):032x}"
                v["marketplaceLink"] = "https://market.example.org/cat"
            ops.append(("unit", uid, v))
            units.append(uid)
            if labels and r.random() < 0.25:
                luid = self.uuid()
                ops.append(("label_units", luid, {"id": luid, "orgUid": org, "warehouseUnitId": uid,
                                                   "labelId": r.choice(labels)}))
        self.serial_hi[skey] = pos
        return ops
