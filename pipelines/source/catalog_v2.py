"""The CADT data model v2 as served by `/v2`, declared once, from CAD Trust's own data dictionary.

The tables, API field names, types and descriptions come from the dictionary
(`data/cadt-v2-schema-2.0.2.json`, CAD Trust Data Dictionary v2.0.2, shipped by
Chia-Network/cadt as `docs/cadtrust-schema-v2.0.2.json`). Where the newest cadt code serves
something else, `_CODE` says so, with the source file (see shared `cadt-v2-facts.md` §4, §6):
the mirror lands what a node actually sends.

Every v2 table has its own list endpoint (no nesting). Only `/v2/project` and `/v2/unit`
accept `filter` / `order` (keyset crawls, `updatedAt` for new records); the others take
`page`, `limit` (both required, limit <= 1000) and `orgUid` only, so they are read by page
offset and single records by `GET /v2/<resource>/<key>`. Audit rows, organization entries and
the feed's `change` values are snake_case.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.source.catalog import Catalog, Field, Read, Spelling, Table
from pipelines.source.catalog import FieldType as T

DICTIONARY_PATH = Path(__file__).parent / "data" / "cadt-v2-schema-2.0.2.json"
DICTIONARY = json.loads(DICTIONARY_PATH.read_text())

_TYPES = {
    "Date (ISO 8601)": T.TIMESTAMP, "Date (Composite PK)": T.TIMESTAMP, "API": T.TIMESTAMP,
    "Year": T.BIGINT, "Decimal": T.DECIMAL, "Array[String]": T.JSON,
}
_ORG = Field("orgUid", description="Owning organization (nullable on rows created before "
             "2026-02; `20260220120000-add-org-uid-to-standalone-tables-v2.js`).")
_CREATED_BY = Field("createdByOrgUid", description="Organization that created the row "
                    "(`20260727120000-add-created-by-org-uid-v2.js`; backfilled best effort).")


@dataclass(frozen=True)
class _Code:
    """How the newest cadt code differs from the dictionary for one table."""

    source: str  # where the code says it
    primary_key: str | None = None
    rename: dict[str, str] = field(default_factory=dict)  # dictionary apiField -> served name
    drop: tuple[str, ...] = ()
    add: tuple[Field, ...] = ()
    legacy: dict[str, str] = field(default_factory=dict)  # old spelling -> current (aliases)
    retype: dict[str, T] = field(default_factory=dict)


_CHILD = (_CREATED_BY,)
_CODE: dict[str, _Code] = {
    "program": _Code("src/models/v2/program-v2.modeltypes.js @ 608a2cd4",
                     drop=("programRegistryId",),
                     add=(Field("programRegistryActivityId"), Field("programRegistryProgramId"),
                          _ORG)),
    "methodology": _Code("methodology-v2.modeltypes.js @ 29c0c0f8", add=(_ORG,)),
    "stakeholder": _Code("stakeholder-v2.modeltypes.js @ 83133bc8 (linked via "
                         "stakeholder_projects only)", drop=("cadTrustProjectId",), add=(_ORG,)),
    "label": _Code("label-v2.modeltypes.js @ 83133bc8", add=(_ORG,)),
    "aef_t1_submission": _Code("aef-t1-submission modeltypes @ 29c0c0f8 (version is a STRING)",
                               add=(_ORG,), retype={"aefT1SubmissionVersion": T.TEXT}),
    "project_methodology": _Code("project-methodology modeltypes @ 11e4a3e9",
                                 primary_key="cadTrustProjectMethodologyId", add=_CHILD),
    "unit_label": _Code("unit-label modeltypes @ 11e4a3e9", primary_key="cadTrustUnitLabelId",
                        add=_CHILD),
    "co_benefit": _Code("co-benefit-v2.modeltypes.js @ 11e4a3e9",
                        primary_key="cadTrustCoBenefitId",
                        rename={"cadTrustCobenefitId": "cadTrustCoBenefitId",
                                "cobenefit": "coBenefitId"}, add=_CHILD),
    "aef_t2_authorizations": _Code(
        "aef-t2 modeltypes @ 29c0c0f8 (the typo is the real, never renamed column name)",
        rename={"aefT2AuthorizationsAuthorizedEntityId": "aefT2AuthorizationsAuthoziedEntityId"},
        add=_CHILD),
    "aef_t3_actions": _Code("src/utils/v2-legacy-field-names.js @ 2cd63fcc", add=_CHILD,
                            legacy={"aefT3ActionsCoopoerativeApproachId":
                                    "aefT3ActionsCooperativeApproachId"}),
    "aef_t4_holdings": _Code("src/utils/v2-legacy-field-names.js @ 2cd63fcc", add=_CHILD,
                             legacy={"aefT4HoldingsCoopoerativeApproachId":
                                     "aefT4HoldingsCooperativeApproachId"}),
}
# The unit model serves the marketplace fields, which the dictionary does not list.
_CODE["unit"] = _Code("src/models/v2/unit-v2.model.js @ 08b8be50", add=(
    Field("marketplace", description="Marketplace the unit is offered on (e.g. 'Tokenized on "
          "Chia')."),
    Field("marketplaceLink", description="Link to the unit on the marketplace."),
    Field("marketplaceIdentifier", description="The unit's identifier on the marketplace "
          "(never '': Joi `disallow('')`)."),
))
for _name in ("validation", "verification", "location", "estimation", "rating", "issuance",
              "aef_t5_authorized_entities"):
    _CODE.setdefault(_name, _Code("newest modeltypes @ 738f7094", add=_CHILD))

# In the code, not in the dictionary: the stakeholder <-> project link table.
_STAKEHOLDER_PROJECTS = {
    "api_endpoint": "/v2/stakeholder-projects",
    "description": "Which stakeholders take part in which projects (link rows).",
    "parent_fk": {"field": "cadTrustProjectId"},
    "fields": {
        **{k: {"apiField": k, "type": "GUID (FK)"} for k in (
            "cadTrustStakeholderProjectId", "cadTrustStakeholderId", "cadTrustProjectId")},
        **{k: {"apiField": k, "type": "API"} for k in ("createdAt", "updatedAt")},
    },
}
_CODE["stakeholder_projects"] = _Code("stakeholder-projects modeltypes @ 11e4a3e9", add=_CHILD)
# `project` / `unit` define `createdAt: 'created_at'`, so Sequelize may emit the snake_case
# keys; models built from camelCase modeltypes emit `createdAt` (cadt-v2-facts.md §5.1).
_STAMP_ALIASES = (("created_at", "createdAt"), ("updated_at", "updatedAt"))
# `src/controllers/v2/{project,unit}-v2.controller.js`: filter <= 10000 characters, its value
# <= 5000; the models
# name the ingest time `updated_at` (cadt-v2-facts.md §5.1), which `order` spells `updatedAt`
_KEYSET = Read(filter_max=10000, value_max=5000, keyset=True, since_filter="updated_at",
               owned=True)
_OFFSET = Read(since_field=None, keyset=False, by_path=True)


def _fields(spec: dict, code: _Code) -> tuple[Field, ...]:
    out: list[Field] = []
    for f in spec["fields"].values():
        name = code.rename.get(f["apiField"], f["apiField"])
        if name in code.drop:
            continue
        text = f.get("description", "")
        if f.get("picklist"):
            text = (text + f" Pick list `{f['picklist']}`.").strip()
        typ = code.retype.get(name) or _TYPES.get(f["type"], T.TEXT)
        out.append(Field(name, typ, text))
    names = {f.api_name for f in out}
    out += [f for f in code.add if f.api_name not in names]
    if code.primary_key and code.primary_key not in names:
        out.insert(0, Field(code.primary_key, description="Record id (UUID)."))
    return tuple(out)


def _table(name: str, spec: dict) -> Table:
    code = _CODE.get(name, _Code("dictionary"))
    fields = _fields(spec, code)
    pk = code.primary_key or fields[0].api_name
    parent = (spec.get("parent_fk") or {}).get("field", "")
    parent_key = parent.split(" + ")[0] or None
    if parent_key in code.drop:
        parent_key = None
    endpoint = spec["api_endpoint"]
    return Table(
        name=name, api_name=name, primary_key=(pk,), fields=fields,
        description=spec.get("description", ""), endpoint=endpoint,
        audit_names=(name,), parent_key=parent_key,
        read=_KEYSET if name in ("project", "unit") else _OFFSET,
        aliases=(*code.legacy.items(), *_STAMP_ALIASES),
    )


def _data_tables() -> tuple[Table, ...]:
    specs = {k: v for k, v in DICTIONARY["tables"].items()}
    specs.update({k: v for k, v in DICTIONARY["aef_tables"].items() if k != "insert_order"})
    specs["stakeholder_projects"] = _STAKEHOLDER_PROJECTS
    order = [*DICTIONARY["insert_order"], "stakeholder_projects",
             *DICTIONARY["aef_tables"]["insert_order"]]
    return tuple(_table(n, specs[n]) for n in order)


AUDIT = Table(
    name="audit", api_name="audit", primary_key=("id",), endpoint="/v2/audit",
    description="The node's per-organization v2 change feed (snake_case rows, "
                "`src/models/v2/audit-v2.modeltypes.js @ 29c0c0f8`).",
    fields=(
        Field("id", T.BIGINT, "Autoincrement id on the serving node (not stable across resets)."),
        Field("org_uid"), Field("registry_id", description="The org's v2 registry store."),
        Field("root_hash"),
        Field("type", description="CREATE REGISTRY, INSERT (insert or update), DELETE, NO CHANGE."),
        Field("change", description="JSON string of the DataLayer value with snake_case keys; "
                                    "null on DELETE rows whose value DataLayer did not supply."),
        Field("table", description="DataLayer key prefix (the v2 table name), comment, author."),
        Field("onchain_confirmation_time_stamp", T.UNIX_SECONDS),
        Field("author"), Field("comment"),
        Field("generation", T.BIGINT),
        Field("created_at", T.TIMESTAMP), Field("updated_at", T.TIMESTAMP),
    ),
)

ORGANIZATIONS = Table(
    name="organizations", api_name="organizations", primary_key=("org_uid",),
    endpoint="/v2/organizations",
    description="Organizations with a v2 store on the node (snake_case map, "
                "`OrganizationsV2.getOrgsMap()`).",
    fields=(
        Field("org_uid"), Field("org_hash"), Field("name"), Field("icon"),
        Field("is_home", T.BOOLEAN), Field("subscribed", T.BOOLEAN), Field("synced", T.BOOLEAN),
        Field("file_store_subscribed", description="The fileStoreId string, or null."),
        Field("registry_id", description="The org's v2 registry store."), Field("registry_hash"),
        Field("sync_remaining", T.BIGINT),
        Field("data_model_version_store_id"), Field("data_model_version_store_hash"),
        Field("xchAddress"), Field("balance"),
    ),
)

PICK_LISTS = Table(
    name="pick_lists", api_name="pickList", primary_key=("listName", "position"),
    endpoint="/v2/governance/meta/pickList",
    description="Governance pick lists: one row per allowed value, in the source's order.",
    fields=(Field("listName"), Field("position", T.BIGINT), Field("value")),
)

V2 = Catalog(
    version="v2",
    schema="cadt_v2",
    tables=(ORGANIZATIONS, PICK_LISTS, *_data_tables(), AUDIT),
    audit_ignore=frozenset({"comment", "author"}),
    audit_endpoint="/v2/audit",
    node_stamped=frozenset({"updatedAt"}),
    kept_if_absent=frozenset({"createdAt"}),
    partition="node",
    feed_keys="column",
    audit_order_total=False,  # `ORDER BY onchain_confirmation_time_stamp` (audit-v2.model.js)
    spelling=Spelling(org_uid="org_uid", registry_id="registry_id", registry_hash="registry_hash",
                      root_hash="root_hash"),
)


def picklists() -> dict[str, list[str]]:
    """The dictionary's pick lists (drive accepted-values tests; never enforced on landing)."""
    return {k: list(v) for k, v in DICTIONARY["picklists"].items()}

