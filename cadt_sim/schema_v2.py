"""Table catalogue of the CADT data model v2 node database, as data (the simulator's own).

One entry per v2 table, named by its DataLayer key prefix (= the node's SQLite table name):
column order and node types as the read API serializes them, primary key, owner column, the
parent path an ``orgUid`` list filter joins through, the default list order, and the list route's
extra parameters. Sources: the newest `Chia-Network/cadt` models (``src/models/v2/*``),
controllers (``src/controllers/v2/*``) and routes (``src/routes/v2/*``), summarised in
``../shared/cadt-v2-facts.md`` §1.4, §2.3, §4 and §5.1.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache

from .schema import parse_columns

STR, INT, DATEONLY, DECIMAL, JSONARR, TS = "str", "int", "dateonly", "decimal", "jsonarr", "ts"
#: the real misspelled column (never renamed) and the legacy T3/T4 spellings mapped on ingest
#: (``src/utils/v2-legacy-field-names.js`` @ 2cd63fcc)
T2_ENTITY_COLUMN = "aefT2AuthorizationsAuthoziedEntityId"
LEGACY_RENAMES: dict[str, dict[str, str]] = {
    "aef_t3_actions": {"aefT3ActionsCoopoerativeApproachId": "aefT3ActionsCooperativeApproachId"},
    "aef_t4_holdings": {"aefT4HoldingsCoopoerativeApproachId":
                        "aefT4HoldingsCooperativeApproachId"},
}


@cache
def snake(name: str) -> str:
    """API attribute -> column (Sequelize ``underscored``): ``aefT1SubmissionId`` ->
    ``aef_t1_submission_id``."""
    return re.sub(r"([A-Z])", r"_\1", name).lower()


@cache
def camel(name: str) -> str:
    """Column -> attribute as ingestion does it (lodash ``camelCase`` on snake keys)."""
    return re.sub(r"_([a-z0-9])", lambda m: m.group(1).upper(), name)


@dataclass(frozen=True)
class V2Table:
    """One v2 node table and its read routes."""

    name: str  # DataLayer prefix == table name == truth name
    route: str  # list route, e.g. "/v2/co-benefit"
    pk: str
    columns: tuple[tuple[str, str], ...]  # (API field, node type), served order
    label: str  # "<label> not found" (404 of GET /:id)
    plural: str  # "Error retrieving <plural>" (controller errors)
    owner: str = "createdByOrgUid"  # orgUid (project, unit, standalone) | createdByOrgUid
    #: (fk, table) hops from this table to one with an ``orgUid`` column: the list filter
    #: ``orgUid`` is an INNER JOIN along them; () = the table's own orgUid column
    org_path: tuple[tuple[str, str], ...] = ()
    order: tuple[str, str] | None = None  # default ORDER BY (column, direction); None = rowid
    created_by: bool = False  # list route accepts createdByOrgUid
    columns_param: bool = False  # list route accepts columns (validation, verification)
    uuid_check: bool = False  # GET /:id validates UUID v4 first (estimation, rating)
    decimal_scale: dict[str, int] = field(default_factory=dict, hash=False, compare=False)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c for c, _ in self.columns)

    @property
    def created(self) -> str:
        """The creation timestamp key as served (``created_at`` on project/unit)."""
        return self.columns[-2][0]

    @property
    def updated(self) -> str:
        return self.columns[-1][0]

    def type_of(self, col: str) -> str | None:
        return _types(self.name, self.columns).get(col)


@cache
def _types(name: str, columns: tuple[tuple[str, str], ...]) -> dict[str, str]:
    return dict(columns)


def _cols(spec: str, snake_ts: bool = False) -> tuple[tuple[str, str], ...]:
    """The columns, then the two timestamps (snake_case on project/unit)."""
    ts = ("created_at", "updated_at") if snake_ts else ("createdAt", "updatedAt")
    return (*parse_columns(spec), *((c, TS) for c in ts))


_PROJECT = (("cadTrustProjectId", "project"),)
_AEF_LINKS = "cadTrustAefT1SubmissionId cadTrustUnitId cadTrustProjectId"

PROGRAM = V2Table(
    "program", "/v2/program", "cadTrustProgramId",
    _cols("cadTrustProgramId programName programRegistry programRegistryActivityId "
          "programRegistryProgramId programDescription orgUid"),
    "Program", "programs", owner="orgUid")
METHODOLOGY = V2Table(
    "methodology", "/v2/methodology", "cadTrustMethodologyId",
    _cols("cadTrustMethodologyId methodologyCode methodologyName methodologyVersion "
          "methodologyDate:dateonly methodologyLink methodologyType orgUid"),
    "Methodology", "methodologies", owner="orgUid")
STAKEHOLDER = V2Table(
    "stakeholder", "/v2/stakeholder", "cadTrustStakeholderId",
    _cols("cadTrustStakeholderId stakeholderName stakeholderType stakeholderLink orgUid"),
    "Stakeholder", "stakeholders", owner="orgUid")
LABEL = V2Table(
    "label", "/v2/label", "cadTrustLabelId",
    _cols("cadTrustLabelId labelName labelType labelLink labelDate:dateonly orgUid"),
    "Label", "labels", owner="orgUid", order=("createdAt", "DESC"))
AEF_T1 = V2Table(
    "aef_t1_submission", "/v2/aef-t1-submission", "cadTrustAefT1SubmissionId",
    _cols("cadTrustAefT1SubmissionId aefT1SubmissionParty aefT1SubmissionVersion "
          "aefT1SubmissionReportYear:int aefT1SubmissionSubmissionDate:dateonly "
          "aefT1SubmissionReviewStatus aefT1SubmissionResultCheck "
          "aefT1SubmissionNdcFirstYear:int aefT1SubmissionNdcLastYear:int "
          "aefT1SubmissionReferenceReviewReport orgUid"),
    "AEF-T1-Submission", "AEF-T1-Submissions", owner="orgUid",
    order=("aefT1SubmissionSubmissionDate", "DESC"))
PROJECT = V2Table(
    "project", "/v2/project", "cadTrustProjectId",
    _cols("cadTrustProjectId orgUid projectRegistryName projectId projectCreditingProgram "
          "projectName projectLink projectDescription projectSector:jsonarr "
          "projectType:jsonarr projectSubtype projectStatus projectStatusDate:dateonly "
          "projectUnitMetric cadTrustReferenceProjectId cadTrustProgramId", snake_ts=True),
    "Project", "projects", owner="orgUid", order=("created_at", "DESC"))
PROJECT_METHODOLOGY = V2Table(
    "project_methodology", "/v2/project-methodology", "cadTrustProjectMethodologyId",
    _cols("cadTrustProjectMethodologyId cadTrustProjectId cadTrustMethodologyId "
          "projectMethodologyDate:dateonly projectMethodologyDescription createdByOrgUid"),
    "Project methodology", "project methodologies", org_path=_PROJECT,
    order=("createdAt", "DESC"))
VALIDATION = V2Table(
    "validation", "/v2/validation", "cadTrustValidationId",
    _cols("cadTrustValidationId validationId validationType validationBody "
          "validationDate:dateonly validationCreditPeriodStartDate:dateonly "
          "validationCreditPeriodEndDate:dateonly cadTrustProjectId createdByOrgUid"),
    "Validation", "validations", org_path=_PROJECT, created_by=True, columns_param=True)
VERIFICATION = V2Table(
    "verification", "/v2/verification", "cadTrustVerificationId",
    _cols("cadTrustVerificationId verificationId verificationStartDate:dateonly "
          "verificationEndDate:dateonly verificationBody cadTrustProjectId "
          "cadTrustValidationId createdByOrgUid"),
    "Verification", "verifications", org_path=_PROJECT, created_by=True, columns_param=True)
LOCATION = V2Table(
    "location", "/v2/location", "cadTrustLocationId",
    _cols("cadTrustLocationId locationCountry locationRegion locationGis locationMapType "
          "locationMapFileLink cadTrustProjectId createdByOrgUid"),
    "Location", "locations", org_path=_PROJECT, created_by=True)
ESTIMATION = V2Table(
    "estimation", "/v2/estimation", "cadTrustEstimationId",
    _cols("cadTrustEstimationId estimationStartDate:dateonly estimationEndDate:dateonly "
          "estimationUnitCount:decimal estimationReferenceNo cadTrustProjectId createdByOrgUid"),
    "Estimation", "estimations", org_path=_PROJECT, order=("createdAt", "DESC"),
    uuid_check=True, decimal_scale={"estimationUnitCount": 6})
RATING = V2Table(
    "rating", "/v2/rating", "cadTrustRatingId",
    _cols("cadTrustRatingId ratingType ratingName ratingValue ratingLink cadTrustProjectId "
          "createdByOrgUid"),
    "Rating", "ratings", org_path=_PROJECT, order=("createdAt", "DESC"), created_by=True,
    uuid_check=True)
CO_BENEFIT = V2Table(
    "co_benefit", "/v2/co-benefit", "cadTrustCoBenefitId",
    _cols("cadTrustCoBenefitId coBenefitId cadTrustProjectId createdByOrgUid"),
    "Co-Benefit", "co-benefits", org_path=_PROJECT, order=("createdAt", "DESC"),
    created_by=True)
STAKEHOLDER_PROJECTS = V2Table(
    "stakeholder_projects", "/v2/stakeholder-projects", "cadTrustStakeholderProjectId",
    _cols("cadTrustStakeholderProjectId cadTrustStakeholderId cadTrustProjectId "
          "createdByOrgUid"),
    "Stakeholder project", "stakeholder projects", org_path=_PROJECT,
    order=("createdAt", "DESC"), created_by=True)
ISSUANCE = V2Table(
    "issuance", "/v2/issuance", "cadTrustIssuanceId",
    _cols("cadTrustIssuanceId issuanceId issuanceDate:dateonly cadTrustVerificationId "
          "cadTrustProjectMethodologyId cadTrustLocationId createdByOrgUid"),
    "Issuance", "issuances",
    org_path=(("cadTrustVerificationId", "verification"), ("cadTrustProjectId", "project")))
UNIT = V2Table(
    "unit", "/v2/unit", "cadTrustUnitId",
    _cols("cadTrustUnitId orgUid unitSerialId unitStartBlock unitEndBlock unitCount:decimal "
          "unitType unitVintageYear:int unitStatus unitStatusReason unitStatusDate:dateonly "
          "unitRetirementDetail unitRetirementBeneficiary unitRetirementBeneficiaryId unitLink "
          "unitMetric unitCurrentOwner unitItmosReferenceId marketplace marketplaceLink "
          "marketplaceIdentifier cadTrustIssuanceId", snake_ts=True),
    "Unit", "units", owner="orgUid", order=("created_at", "DESC"))
UNIT_LABEL = V2Table(
    "unit_label", "/v2/unit-label", "cadTrustUnitLabelId",
    _cols("cadTrustUnitLabelId cadTrustUnitId cadTrustLabelId labelUnitDate:dateonly "
          "labelUnitDescription createdByOrgUid"),
    "Unit label", "unit labels", org_path=(("cadTrustUnitId", "unit"),),
    order=("createdAt", "DESC"), created_by=True)
AEF_T2 = V2Table(
    "aef_t2_authorizations", "/v2/aef-t2-authorizations", "cadTrustAefT2AuthorizationsId",
    _cols("cadTrustAefT2AuthorizationsId aefT2AuthorizationsId "
          "aefT2AuthorizationsDate:dateonly aefT2AuthorizationsCooperativeApproachId "
          "aefT2AuthorizationsVersion aefT2AuthorizationsQuantity:decimal "
          "aefT2AuthorizationsMetric aefT2AuthorizationsGwpValue "
          "aefT2AuthorizationsApplicableNonGhgMetric aefT2AuthorizationsSector "
          "aefT2AuthorizationsActivityType aefT2AuthorizationsPurposesForAuthorization "
          f"aefT2AuthorizationsAuthorizedPartyId {T2_ENTITY_COLUMN} "
          "aefT2AuthorizationsOimpAuthorizedParty aefT2AuthorizationsAuthorizedTimeframe "
          "aefT2AuthorizationsAuthorizationTerms aefT2AuthorizationsAuthorizationDocumentation "
          "aefT2AuthorizationsFirstTransferDefinitionOimp "
          f"aefT2AuthorizationsAdditionalInformation {_AEF_LINKS} "
          "cadTrustAefT5AuthorizedEntitiesId createdByOrgUid"),
    "AEF-T2-Authorizations", "AEF-T2-Authorizations", org_path=_PROJECT,
    order=("aefT2AuthorizationsDate", "DESC"), created_by=True)
_T34 = ("CooperativeApproachId AuthorizationId FirstTransferringPartyId PartyItmoRegistryId "
        "ItmoFirstId ItmoLastId UnitRegistryId UnitFirstId UnitLastId Metric GwpValue "
        "ApplicableNonGhgMetric QuantityTCo2:decimal QuantityNonGhg MitigationType "
        "VintageYear:int")
AEF_T3 = V2Table(
    "aef_t3_actions", "/v2/aef-t3-actions", "cadTrustAefT3ActionsId",
    _cols("cadTrustAefT3ActionsId aefT3ActionsDate:dateonly aefT3ActionsType "
          "aefT3ActionsSubtype " + " ".join("aefT3Actions" + c for c in _T34.split())
          + " aefT3ActionsTransferringPartyId aefT3ActionsAcquiringPartyId "
          "aefT3ActionsPurposeOfUseOimp aefT3ActionsUsingParticipatingPartyId "
          "aefT3ActionsUsingAuthorizedEntityId aefT3ActionsItmoUsedYear:int "
          "aefT3ActionsConsistencyCheckResult aefT3ActionsAdditionalInformation "
          f"{_AEF_LINKS} cadTrustAefT2AuthorizationsId createdByOrgUid"),
    "AEF-T3-Actions", "AEF-T3-Actions", org_path=_PROJECT, order=("aefT3ActionsDate", "DESC"),
    created_by=True)
AEF_T4 = V2Table(
    "aef_t4_holdings", "/v2/aef-t4-holdings", "cadTrustAefT4HoldingsId",
    _cols("cadTrustAefT4HoldingsId " + " ".join("aefT4Holdings" + c for c in _T34.split())
          + f" {_AEF_LINKS} cadTrustAefT2AuthorizationsId createdByOrgUid"),
    "AEF-T4-Holdings", "AEF-T4-Holdings", org_path=_PROJECT,
    order=("aefT4HoldingsVintageYear", "DESC"), created_by=True)
AEF_T5 = V2Table(
    "aef_t5_authorized_entities", "/v2/aef-t5-authorized-entities",
    "cadTrustAefT5AuthorizedEntitiesId",
    _cols("cadTrustAefT5AuthorizedEntitiesId aefT5AuthorizedEntitiesAuthorizationDate:dateonly "
          "aefT5AuthorizedEntitiesName aefT5AuthorizedEntitiesIncorporationCountry "
          "aefT5AuthorizedEntitiesId aefT5AuthorizedEntitiesCooperativeApproachId "
          "aefT5AuthorizedEntitiesConditions aefT5AuthorizedEntitiesChangeConditions "
          f"aefT5AuthorizedEntitiesAdditionalInformation {_AEF_LINKS} createdByOrgUid"),
    "AEF-T5-Authorized-Entities", "AEF-T5-Authorized-Entities", org_path=_PROJECT,
    order=("aefT5AuthorizedEntitiesAuthorizationDate", "DESC"))

#: the data dictionary's insert order, then the AEF tables (T5 and T1 before T2..T4)
TABLES: tuple[V2Table, ...] = (
    PROGRAM, METHODOLOGY, STAKEHOLDER, LABEL, PROJECT, PROJECT_METHODOLOGY, VALIDATION,
    VERIFICATION, LOCATION, ESTIMATION, RATING, CO_BENEFIT, STAKEHOLDER_PROJECTS, ISSUANCE, UNIT,
    UNIT_LABEL, AEF_T5, AEF_T1, AEF_T2, AEF_T3, AEF_T4,
)
BY_NAME: dict[str, V2Table] = {t.name: t for t in TABLES}
BY_ROUTE: dict[str, V2Table] = {t.route: t for t in TABLES}
#: children of a project as the writer's cascade stages their DELETEs
#: (``stageProjectChildDeletes``, ``src/utils/v2-cascade-delete.js`` @ 0a18f1fa)
PROJECT_CASCADE = ("location", "estimation", "rating", "co_benefit", "validation",
                   "project_methodology", "stakeholder_projects")

AUDIT_COLUMNS = ("id", "org_uid", "registry_id", "root_hash", "type", "change", "table",
                 "onchain_confirmation_time_stamp", "author", "comment", "generation",
                 "created_at", "updated_at")
ORG_COLUMNS = ("org_uid", "org_hash", "name", "icon", "is_home", "subscribed", "synced",
               "file_store_subscribed", "registry_id", "registry_hash", "sync_remaining",
               "data_model_version_store_id", "data_model_version_store_hash")
TRUTH_TABLES = ("organizations", "pickList", *(t.name for t in TABLES), "audit")

# -- list-route whitelists (controllers @ 0d9a979f / f97f7d78) ---------------------------------
PROJECT_ORDER_COLUMNS = (
    "cadTrustProjectId", "projectRegistryName", "projectId", "projectCreditingProgram",
    "projectName", "projectLink", "projectDescription", "projectSector", "projectType",
    "projectSubtype", "projectStatus", "projectStatusDate", "projectUnitMetric",
    "cadTrustReferenceProjectId", "cadTrustProgramId", "createdAt", "updatedAt")
UNIT_ORDER_COLUMNS = (
    "cadTrustUnitId", "unitSerialId", "unitStartBlock", "unitEndBlock", "unitCount", "unitType",
    "unitVintageYear", "unitStatus", "unitStatusReason", "unitStatusDate",
    "unitRetirementDetail", "unitRetirementBeneficiary", "unitRetirementBeneficiaryId",
    "unitLink", "unitMetric", "unitCurrentOwner", "unitItmosReferenceId", "marketplace",
    "marketplaceLink", "marketplaceIdentifier", "cadTrustIssuanceId", "createdAt", "updatedAt")
#: ``defaultColumns`` of the controllers = the order whitelists; associations accepted by columns=
PROJECT_ASSOCIATIONS = {"program": "program", "ProgramV2": "program", "locations": "location",
                        "LocationV2": "location", "estimations": "estimation",
                        "EstimationV2": "estimation", "ratings": "rating", "RatingV2": "rating",
                        "coBenefits": "co_benefit", "CoBenefitV2": "co_benefit"}
UNIT_ASSOCIATIONS = ("issuance", "IssuanceV2", "unitLabels", "UnitLabelV2")
