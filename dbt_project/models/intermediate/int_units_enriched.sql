{{ config(materialized='table') }}
{#- One row per current unit record with its issuance, project (via issuance; a unit has no
    project id of its own), host country, owner country and Article 6 label flags. Units without
    an issuance, or whose issuance/project is gone, are kept with NULL links and flags. -#}
with units as (
    select * from {{ ref('stg_cadt_v1__units') }}
),

issuances as (
    select * from {{ ref('stg_cadt_v1__issuances') }}
),

projects as (
    select * from {{ ref('int_projects_enriched') }}
),

locations as (
    select * from {{ ref('int_project_locations_harmonised') }}
),

countries as (
    select * from {{ ref('country_codes') }}
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
    group by unit_labels.warehouse_unit_id
)

select
    units.warehouse_unit_id,
    units.org_uid,
    units.issuance_id,
    issuances.issuance_id is not null as issuance_exists,
    issuances.warehouse_project_id,
    projects.warehouse_project_id is not null as project_exists,
    projects.org_uid as project_org_uid,
    projects.current_registry,
    projects.project_name,
    projects.developer_key,
    projects.covered_by_ndc,
    coalesce(locations.country_iso3, primary_locations.country_iso3) as host_country_iso3,
    case
        when locations.country_iso3 is not null then 'unit_project_location'
        when primary_locations.country_iso3 is not null then 'project_primary_location'
    end as host_country_source,
    units.unit_owner,
    units.owner_country_raw,
    owner_country.iso3 as owner_country_iso3,
    units.unit_block_start,
    units.unit_block_end,
    units.serial_number_block,
    units.serial_prefix,
    units.serial_end_prefix,
    units.serial_start_number,
    units.serial_end_number,
    units.unit_count,
    units.vintage_year,
    units.unit_type,
    units.unit_status,
    units.unit_status_raw,
    {{ unit_status_group('units.unit_status') }} as status_group,
    units.unit_status_reason,
    units.marketplace,
    units.marketplace_identifier,
    units.corresponding_adjustment_declaration,
    units.corresponding_adjustment_status,
    coalesce(unit_label_flags.label_count, 0) as label_count,
    unit_label_flags.label_types,
    coalesce(unit_label_flags.has_authorization_label, false) as unit_has_authorization_label,
    coalesce(unit_label_flags.has_approval_label, false) as unit_has_approval_label,
    coalesce(unit_label_flags.has_qualification_label, false) as unit_has_qualification_label,
    coalesce(unit_label_flags.has_endorsement_label, false) as unit_has_endorsement_label,
    coalesce(projects.has_authorization_label, false) as project_has_authorization_label,
    coalesce(projects.has_approval_label, false) as project_has_approval_label,
    units.created_at,
    units.record_source
from units
left join issuances on issuances.issuance_id = units.issuance_id
left join projects on projects.warehouse_project_id = issuances.warehouse_project_id
left join locations on locations.project_location_id = units.project_location_id
left join primary_locations
    on primary_locations.warehouse_project_id = issuances.warehouse_project_id
left join countries as owner_country on owner_country.country_key = units.owner_country_key
left join unit_label_flags on unit_label_flags.warehouse_unit_id = units.warehouse_unit_id
