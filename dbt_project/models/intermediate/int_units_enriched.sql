{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid',
                      'data_model': 'data_model'}},
) }}
{#- One row per current unit record with its issuance, project (via issuance; a unit has no
    project id of its own), registry, host country, owner country, Article 6 label flags and
    data-quality flags. Units without an issuance, or whose issuance/project is gone, are kept.

    This is the ONE place where the numbers are defined (docs/counting-rules.md): quantity_issued,
    quantity_retired, quantity_cancelled, quantity_expired, quantity_exported and
    quantity_outstanding of each unit record. Every mart sums these columns and nothing else, and
    every mart can attribute every unit record (project_key, issuance_key), so all marts add up
    to the same totals (tests/singular/assert_totals_agree_across_marts.sql).
    Both data models: the v2 unit records (int_v2_units_enriched, the same columns) are unioned
    in, `data_model` says which. A v1 record of a project that the organization republished in
    v2 (int_projects_enriched.is_superseded) is kept, `is_superseded`, with every quantity 0:
    its credits are counted once, in v2 (docs/counting-rules.md, Both data models).
    Incremental (macros/incremental.sql): a build recomputes only the unit records the new syncs
    can have changed (changed_units_sql says which; every v2 record when v2 changed). -#}
{%- set plan = changes_plan() %}
with units as (
    select * from {{ ref('stg_cadt_v1__units') }}
    where {{ changes_scope(plan, data_model="'v1'") }}
),

issuances as (
    select * from {{ ref('stg_cadt_v1__issuances') }}
),

projects as (
    select * from {{ ref('int_projects_enriched') }}
    where data_model is distinct from 'v2'
),

organizations as (
    select * from {{ ref('int_organizations') }}
),

locations as (
    select * from {{ ref('int_project_locations_harmonised') }}
),

countries as (
    select * from {{ ref('country_codes') }}
),

retirement_dates as (
    select * from {{ ref('int_unit_retirement_dates') }}
),

-- first matched location per project id, also for projects that were deleted (their
-- locations stay behind as orphans)
primary_locations as (
    select
        warehouse_project_id,
        first(country_iso3 order by created_at nulls last, project_location_id) as country_iso3
    from locations
    where country_iso3 is not null
    group by warehouse_project_id
),

unit_label_flags as (
    select
        unit_labels.warehouse_unit_id,
        count(*) as label_count,
        bool_or(labels.label_family = 'authorization') as has_authorization_label,
        bool_or(labels.label_family = 'approval') as has_approval_label,
        bool_or(labels.label_family = 'qualification') as has_qualification_label,
        bool_or(labels.label_family = 'endorsement') as has_endorsement_label,
        string_agg(distinct labels.label_type, '; ' order by labels.label_type) as label_types
    from {{ ref('stg_cadt_v1__unit_labels') }} as unit_labels
    inner join {{ ref('stg_cadt_v1__labels') }} as labels on labels.label_id = unit_labels.label_id
    semi join units on units.warehouse_unit_id = unit_labels.warehouse_unit_id
    group by unit_labels.warehouse_unit_id
),

joined as (
    select
        units.*,
        {{ unit_status_group('units.unit_status') }} as status_group,
        coalesce(projects.is_superseded, false) as is_superseded,
        issuances.issuance_id is not null as issuance_exists,
        issuances.warehouse_project_id,
        projects.warehouse_project_id is not null as project_exists,
        projects.org_uid as project_org_uid,
        projects.current_registry,
        coalesce(projects.registry, organizations.organization_registry) as registry,
        case
            when projects.warehouse_project_id is not null then projects.registry_source
            when organizations.organization_registry is not null then 'organization'
            else 'unknown'
        end as registry_source,
        projects.project_name,
        projects.developer_key,
        projects.covered_by_ndc,
        coalesce(unit_location.country_iso3, primary_locations.country_iso3) as host_country_iso3,
        case
            when unit_location.country_iso3 is not null then 'unit_project_location'
            when primary_locations.country_iso3 is not null then 'project_primary_location'
        end as host_country_source,
        owner_country.iso3 as owner_country_iso3,
        {{ canonical_ca_declaration('units.corresponding_adjustment_declaration') }} as ca_declaration,
        {{ canonical_ca_status('units.corresponding_adjustment_status') }} as ca_status,
        unit_label_flags.label_count,
        unit_label_flags.label_types,
        unit_label_flags.has_authorization_label as unit_label_authorization,
        unit_label_flags.has_approval_label as unit_label_approval,
        unit_label_flags.has_qualification_label as unit_label_qualification,
        unit_label_flags.has_endorsement_label as unit_label_endorsement,
        projects.has_authorization_label as project_label_authorization,
        projects.has_approval_label as project_label_approval,
        retirement_dates.retired_at,
        retirement_dates.retired_generation,
        retirement_dates.retired_at_source
    from units
    left join issuances on issuances.issuance_id = units.issuance_id
    left join projects on projects.warehouse_project_id = issuances.warehouse_project_id
    left join organizations on organizations.org_uid = units.org_uid
    left join locations as unit_location
        on unit_location.project_location_id = units.project_location_id
    left join primary_locations
        on primary_locations.warehouse_project_id = issuances.warehouse_project_id
    left join countries as owner_country on owner_country.country_key = units.owner_country_key
    left join unit_label_flags on unit_label_flags.warehouse_unit_id = units.warehouse_unit_id
    left join retirement_dates
        on retirement_dates.warehouse_unit_id = units.warehouse_unit_id
        and retirement_dates.org_uid = units.org_uid
),

v1 as (
select
    'v1' as data_model,
    is_superseded,
    -- attribution: every unit record has a project_key and an issuance_key, the keys of
    -- dim_projects and fct_issuances ('unattributed:<org>' when there is no known project/issuance)
    warehouse_unit_id,
    org_uid,
    issuance_id,
    issuance_exists,
    coalesce(issuance_id, 'unattributed:' || org_uid) as issuance_key,
    warehouse_project_id,
    project_exists,
    coalesce(warehouse_project_id, 'unattributed:' || org_uid) as project_key,
    case
        when project_exists then 'current'
        when warehouse_project_id is not null then 'deleted'
        else 'unattributed'
    end as project_record_status,
    project_org_uid,
    current_registry,
    registry,
    registry_source,
    project_name,
    developer_key,
    covered_by_ndc,
    host_country_iso3,
    host_country_source,
    unit_owner,
    unit_owner_raw,
    owner_country_raw,
    owner_country_key,
    owner_country_iso3,
    -- serial block
    unit_block_start,
    unit_block_end,
    serial_number_block,
    serial_prefix,
    serial_end_prefix,
    serial_start_number,
    serial_end_number,
    -- classification
    unit_count,
    vintage_year,
    unit_type,
    unit_status,
    unit_status_raw,
    status_group,
    unit_status_reason,
    marketplace,
    marketplace_identifier,
    -- the numbers: each unit record counts once as issued, and once in its status group (a
    -- superseded record: nowhere, its v2 twin counts)
    case when is_superseded is not true then unit_count else 0 end as quantity_issued,
    case when is_superseded is not true and status_group = 'retired' then unit_count else 0 end as quantity_retired,
    case when is_superseded is not true and status_group = 'cancelled' then unit_count else 0 end as quantity_cancelled,
    case when is_superseded is not true and status_group = 'expired' then unit_count else 0 end as quantity_expired,
    case when is_superseded is not true and status_group = 'exported' then unit_count else 0 end as quantity_exported,
    case when is_superseded is not true and status_group = 'outstanding' then unit_count else 0 end as quantity_outstanding,
    -- retirement
    retired_at,
    retired_generation,
    retired_at_source,
    cast(null as timestamptz) as unit_status_date,
    cast(null as varchar) as unit_retirement_beneficiary,
    cast(null as varchar) as unit_retirement_beneficiary_id,
    cast(null as varchar) as unit_retirement_detail,
    cast(null as varchar) as unit_itmos_reference_id,
    -- Article 6
    corresponding_adjustment_declaration,
    corresponding_adjustment_status,
    ca_declaration,
    ca_status,
    coalesce(label_count, 0) as label_count,
    label_types,
    coalesce(unit_label_authorization, false) as unit_has_authorization_label,
    coalesce(unit_label_approval, false) as unit_has_approval_label,
    coalesce(unit_label_qualification, false) as unit_has_qualification_label,
    coalesce(unit_label_endorsement, false) as unit_has_endorsement_label,
    coalesce(project_label_authorization, false) as project_has_authorization_label,
    coalesce(project_label_approval, false) as project_has_approval_label,
    -- data-quality flags (docs/counting-rules.md, Data quality)
    serial_start_number is not null
        and serial_end_number >= serial_start_number
        and serial_prefix = serial_end_prefix as serial_block_parsed,
    case
        when serial_start_number is not null
            and serial_end_number >= serial_start_number
            and serial_prefix = serial_end_prefix
            then cast(serial_end_number - serial_start_number + 1 as bigint)
    end as serial_unit_count,
    coalesce(
        serial_end_number - serial_start_number + 1 <> unit_count
            and serial_end_number >= serial_start_number
            and serial_prefix = serial_end_prefix,
        false
    ) as is_serial_count_mismatch,
    coalesce(
        unit_status = 'Retired'
            and retired_at_source in ('audit_history', 'audit_split_parent')
            and year(retired_at at time zone 'UTC') < vintage_year,
        false
    ) as is_retired_before_vintage,
    {{ is_contradictory_ca('ca_declaration', 'ca_status') }} as has_contradictory_ca,
    placeholder_columns,
    placeholder_columns is not null as has_placeholder_value,
    created_at,
    record_source
from joined
)

select * from v1
union all by name
select * from {{ ref('int_v2_units_enriched') }}
where {{ changes_scope(plan, data_model="'v2'") }}
