"""Table catalogue of the CADT v1 node database, as data.

Everything that depends on a table's shape (column order, JSON types, DataLayer key prefix,
primary key, parent link, how it nests in API responses) is read from here, so a v2 catalogue
can be added next to it without touching the store, the ledger or the routes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STR, INT, DATE = "str", "int", "date"


@dataclass(frozen=True)
class TableSpec:
    """One node-database table: column order/types as the read API serializes them."""

    name: str  # model/table name as used in truth() and audit 'projects'-style spellings
    prefix: str  # DataLayer key prefix ("project", "unit", "label_units", ...)
    pk: str
    columns: tuple[tuple[str, str], ...]
    parent: str | None = None  # column linking to the parent record (nesting)
    nest_as: str | None = None  # array name inside a project
    index: tuple[str, ...] = field(default=())  # extra columns kept in memory for joins

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    def type_of(self, col: str) -> str | None:
        for c, t in self.columns:
            if c == col:
                return t
        return None


def parse_columns(spec: str) -> tuple[tuple[str, str], ...]:
    """``"id name count:int"`` -> ``(("id", "str"), ("name", "str"), ("count", "int"))``."""
    out = []
    for tok in spec.split():
        name, _, typ = tok.partition(":")
        out.append((name, typ or STR))
    return tuple(out)


_cols = parse_columns  # the short name of the declarations below
PROJECTS = TableSpec(
    "projects", "project", "warehouseProjectId",
    _cols(
        "warehouseProjectId orgUid currentRegistry projectId originProjectId registryOfOrigin "
        "program projectName projectLink projectDeveloper sector projectType projectTags "
        "coveredByNDC ndcInformation projectStatus projectStatusDate:date unitMetric methodology "
        "methodology2 validationBody validationDate:date timeStaged description "
        "createdAt:date updatedAt:date"
    ),
)
_TAIL = "timeStaged createdAt:date updatedAt:date"
PROJECT_LOCATIONS = TableSpec(
    "projectLocations", "projectLocations", "id",
    _cols("id warehouseProjectId orgUid country inCountryRegion geographicIdentifier "
          "timeStaged createdAt:date fileId updatedAt:date"),
    parent="warehouseProjectId", nest_as="projectLocations",
)
LABELS = TableSpec(
    "labels", "labels", "id",
    _cols("id warehouseProjectId orgUid label labelType creditingPeriodStartDate:date "
          "creditingPeriodEndDate:date validityPeriodStartDate:date validityPeriodEndDate:date "
          "unitQuantity:int labelLink " + _TAIL),
    parent="warehouseProjectId", nest_as="labels",
)
ISSUANCES = TableSpec(
    "issuances", "issuances", "id",
    _cols("id orgUid warehouseProjectId startDate:date endDate:date verificationApproach "
          "verificationReportDate:date verificationBody " + _TAIL),
    parent="warehouseProjectId", nest_as="issuances",
)
CO_BENEFITS = TableSpec(
    "coBenefits", "coBenefits", "id",
    _cols("id warehouseProjectId orgUid cobenefit " + _TAIL),
    parent="warehouseProjectId", nest_as="coBenefits",
)
RELATED_PROJECTS = TableSpec(
    "relatedProjects", "relatedProjects", "id",
    _cols("id warehouseProjectId orgUid relatedProjectId relationshipType registry " + _TAIL),
    parent="warehouseProjectId", nest_as="relatedProjects",
)
PROJECT_RATINGS = TableSpec(
    "projectRatings", "projectRatings", "id",
    _cols("id warehouseProjectId orgUid ratingType ratingRangeHighest ratingRangeLowest rating "
          "ratingLink " + _TAIL),
    parent="warehouseProjectId", nest_as="projectRatings",
)
ESTIMATIONS = TableSpec(
    "estimations", "estimations", "id",
    _cols("id warehouseProjectId orgUid creditingPeriodStart:date creditingPeriodEnd:date "
          "unitCount:int " + _TAIL),
    parent="warehouseProjectId", nest_as="estimations",
)
UNITS = TableSpec(
    "units", "unit", "warehouseUnitId",
    _cols(
        "warehouseUnitId issuanceId projectLocationId orgUid unitOwner countryJurisdictionOfOwner "
        "inCountryJurisdictionOfOwner serialNumberBlock unitBlockStart unitBlockEnd unitCount:int "
        "vintageYear:int unitType marketplace marketplaceLink marketplaceIdentifier unitTags "
        "unitStatus unitStatusReason unitRegistryLink correspondingAdjustmentDeclaration "
        "correspondingAdjustmentStatus " + _TAIL
    ),
    index=("issuanceId",),
)
LABEL_UNIT = TableSpec(
    "label_unit", "label_units", "id",
    _cols("id orgUid warehouseUnitId labelId " + _TAIL),
    parent="warehouseUnitId", index=("labelId",),
)

#: children nested in a project, in the order the read API emits them
PROJECT_CHILDREN: tuple[TableSpec, ...] = (
    PROJECT_LOCATIONS, LABELS, ISSUANCES, CO_BENEFITS, RELATED_PROJECTS, PROJECT_RATINGS,
    ESTIMATIONS,
)
TABLES: tuple[TableSpec, ...] = (PROJECTS, *PROJECT_CHILDREN, UNITS, LABEL_UNIT)
BY_NAME: dict[str, TableSpec] = {t.name: t for t in TABLES}
#: DataLayer prefix -> table; also the aliases the real node accepts (models/index.js ModelKeys)
BY_PREFIX: dict[str, TableSpec] = {t.prefix: t for t in TABLES}
BY_PREFIX.update({"projects": PROJECTS, "units": UNITS, "label_unit": LABEL_UNIT,
                  "labelUnit": LABEL_UNIT, "label": LABELS, "issuance": ISSUANCES})

AUDIT_COLUMNS = ("id", "orgUid", "registryId", "rootHash", "type", "change", "table",
                 "onchainConfirmationTimeStamp", "author", "comment", "createdAt", "updatedAt",
                 "generation")
ORG_COLUMNS = ("orgUid", "orgHash", "name", "icon", "isHome", "subscribed", "synced",
               "fileStoreSubscribed", "registryId", "registryHash", "sync_remaining",
               "dataModelVersionStoreId", "dataModelVersionStoreHash")

#: legacy Joi whitelist for GET /v1/projects?columns= (1.7.24, see 33-projects-columns-*)
PROJECT_COLUMNS_WHITELIST = (
    "warehouseProjectId", "currentRegistry", "registryOfOrigin", "program", "projectName",
    "projectLink", "projectDeveloper", "sector", "projectType", "NDCLinkage", "projectStatus",
    "unitMetric", "methodology", "methodologyVersion", "validationApproach", "projectTag",
    "estimatedAnnualAverageEmissionReduction", "timeStaged", "description",
)

TRUTH_TABLES = ("organizations", "pickList", *(t.name for t in TABLES), "audit")
