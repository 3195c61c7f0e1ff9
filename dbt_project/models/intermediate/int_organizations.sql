{#- One row per organization (of the v1 or the v2 data model, or both), with the registry its name stands for: the registry_aliases entry
    of the whole name, else of the longest known registry name (5+ characters) the organization's
    name starts with ("Verra Registry Bridge" -> Verra), else the name itself. CADT organizations
    are the registries that publish their own data, so this is the last fallback of a project's
    or unit's registry (docs/counting-rules.md, Registries). -#}
with v1_organizations as (
    select * from {{ ref('stg_cadt_v1__organizations') }}
),

v2_organizations as (
    select * from {{ ref('stg_cadt_v2__organizations') }}
),

-- every organization of either data model once: v1's entry when it has one (the name the
-- v1 marts always showed), else its v2 entry
organizations as (
    select
        v1.org_uid,
        v1.organization_name,
        v1.organization_key,
        true as publishes_v1,
        v1.org_uid in (select org_uid from v2_organizations) as publishes_v2
    from v1_organizations as v1
    union all
    select v2.org_uid, v2.organization_name, v2.organization_key, false, true
    from v2_organizations as v2
    where v2.org_uid not in (select org_uid from v1_organizations)
),

registries as (
    select * from {{ ref('registry_aliases') }}
),

name_keys as (
    select org_uid, {{ text_key('organization_name') }} as name_key
    from organizations
),

matched as (
    select
        name_keys.org_uid,
        arg_max(registries.registry_name, length(registries.registry_key)) as registry_name
    from name_keys
    inner join registries
        on name_keys.name_key = registries.registry_key
        or (length(registries.registry_key) >= 5
            and name_keys.name_key like registries.registry_key || ' %')
    group by name_keys.org_uid
)

select
    organizations.org_uid,
    organizations.organization_name,
    organizations.organization_key,
    coalesce(matched.registry_name, organizations.organization_name) as organization_registry,
    matched.registry_name is not null as organization_registry_is_known,
    -- which data models the organization publishes (cadt_v1 / cadt_v2 organizations)
    organizations.publishes_v1,
    organizations.publishes_v2
from organizations
left join matched on matched.org_uid = organizations.org_uid
