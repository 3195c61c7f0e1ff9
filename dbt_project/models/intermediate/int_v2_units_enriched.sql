{#- One row per current v2 unit record, with the columns of int_units_enriched (which unions it
    with the v1 records; the numbers are defined the same way). The project is the issuance's
    verification's (a v2 unit and issuance have no project id); the host country is the
    issuance's location when matched, else the project's primary one. A retired record's
    retirement date is its unitStatusDate (retired_at_source 'unit_status_date'), else its
    createdAt as a lower bound ('record_created_at'), else unknown. v2 has no corresponding-
    adjustment fields on units (Article 6 comes from the AEF tables: mart_article6_aef_*):
    ca_declaration and ca_status are 'Missing'. Unit records without a known project are
    counted under 'unattributed:v2:<org>' (never mixed with the same organization's v1 ones). -#}
with units as (
    select * from {{ ref('stg_cadt_v2__unit') }}
),

issuances as (
    select * from {{ ref('stg_cadt_v2__issuance') }}
),

verifications as (
    select * from {{ ref('stg_cadt_v2__verification') }}
),

projects as (
    select * from {{ ref('int_v2_projects_enriched') }}
),

organizations as (
    select * from {{ ref('int_organizations') }}
),

locations as (
    select * from {{ ref('int_v2_locations_harmonised') }}
),

unit_label_flags as (
    select
        unit_labels.cad_trust_unit_id,
        count(*) as label_count,
        bool_or(labels.label_family = 'authorization') as has_authorization_label,
        bool_or(labels.label_family = 'approval') as has_approval_label,
        bool_or(labels.label_family = 'qualification') as has_qualification_label,
        bool_or(labels.label_family = 'endorsement') as has_endorsement_label,
        string_agg(distinct labels.label_type, '; ' order by labels.label_type) as label_types
    from {{ ref('stg_cadt_v2__unit_label') }} as unit_labels
    inner join {{ ref('stg_cadt_v2__label') }} as labels
        on labels.cad_trust_label_id = unit_labels.cad_trust_label_id
    group by unit_labels.cad_trust_unit_id
),

joined as (
    select
        units.*,
        {{ unit_status_group('units.unit_status') }} as status_group,
        issuances.cad_trust_issuance_id is not null as issuance_exists,
        verifications.cad_trust_project_id as project_id_of_issuance,
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
        coalesce(unit_location.country_iso3, projects.primary_host_country_iso3) as host_country_iso3,
        case
            when unit_location.country_iso3 is not null then 'unit_project_location'
            when projects.primary_host_country_iso3 is not null then 'project_primary_location'
        end as host_country_source,
        unit_label_flags.label_count,
        unit_label_flags.label_types,
        unit_label_flags.has_authorization_label as unit_label_authorization,
        unit_label_flags.has_approval_label as unit_label_approval,
        unit_label_flags.has_qualification_label as unit_label_qualification,
        unit_label_flags.has_endorsement_label as unit_label_endorsement,
        case when units.unit_status = 'Retired' then
            coalesce(units.unit_status_date, units.created_at) end as retired_at,
        case when units.unit_status = 'Retired' then
            case
                when units.unit_status_date is not null then 'unit_status_date'
                when units.created_at is not null then 'record_created_at'
                else 'unknown'
            end
        end as retired_at_source
    from units
    left join issuances on issuances.cad_trust_issuance_id = units.cad_trust_issuance_id
    left join verifications
        on verifications.cad_trust_verification_id = issuances.cad_trust_verification_id
    left join projects on projects.warehouse_project_id = verifications.cad_trust_project_id
    left join organizations on organizations.org_uid = units.org_uid
    left join locations as unit_location
        on unit_location.cad_trust_location_id = issuances.cad_trust_location_id
    left join unit_label_flags on unit_label_flags.cad_trust_unit_id = units.cad_trust_unit_id
)

select
    'v2' as data_model,
    false as is_superseded,
    cad_trust_unit_id as warehouse_unit_id,
    org_uid,
    cad_trust_issuance_id as issuance_id,
    issuance_exists,
    coalesce(cad_trust_issuance_id, 'unattributed:v2:' || org_uid) as issuance_key,
    project_id_of_issuance as warehouse_project_id,
    project_exists,
    coalesce(project_id_of_issuance, 'unattributed:v2:' || org_uid) as project_key,
    case
        when project_exists then 'current'
        when project_id_of_issuance is not null then 'deleted'
        else 'unattributed'
    end as project_record_status,
    project_org_uid,
    current_registry,
    registry,
    registry_source,
    project_name,
    developer_key,
    cast(null as varchar) as covered_by_ndc,
    host_country_iso3,
    host_country_source,
    unit_owner,
    unit_owner_raw,
    cast(null as varchar) as owner_country_raw,
    cast(null as varchar) as owner_country_key,
    cast(null as varchar) as owner_country_iso3,
    unit_block_start,
    unit_block_end,
    serial_number_block,
    serial_prefix,
    serial_end_prefix,
    serial_start_number,
    serial_end_number,
    unit_count,
    vintage_year,
    unit_type,
    unit_status,
    unit_status_raw,
    status_group,
    unit_status_reason,
    marketplace,
    marketplace_identifier,
    unit_count as quantity_issued,
    case when status_group = 'retired' then unit_count else 0 end as quantity_retired,
    case when status_group = 'cancelled' then unit_count else 0 end as quantity_cancelled,
    case when status_group = 'expired' then unit_count else 0 end as quantity_expired,
    case when status_group = 'exported' then unit_count else 0 end as quantity_exported,
    case when status_group = 'outstanding' then unit_count else 0 end as quantity_outstanding,
    retired_at,
    cast(null as bigint) as retired_generation,
    retired_at_source,
    unit_status_date,
    unit_retirement_beneficiary,
    unit_retirement_beneficiary_id,
    unit_retirement_detail,
    unit_itmos_reference_id,
    cast(null as varchar) as corresponding_adjustment_declaration,
    cast(null as varchar) as corresponding_adjustment_status,
    'Missing' as ca_declaration,
    'Missing' as ca_status,
    coalesce(label_count, 0) as label_count,
    label_types,
    coalesce(unit_label_authorization, false) as unit_has_authorization_label,
    coalesce(unit_label_approval, false) as unit_has_approval_label,
    coalesce(unit_label_qualification, false) as unit_has_qualification_label,
    coalesce(unit_label_endorsement, false) as unit_has_endorsement_label,
    false as project_has_authorization_label,
    false as project_has_approval_label,
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
            and retired_at_source = 'unit_status_date'
            and year(retired_at at time zone 'UTC') < vintage_year,
        false
    ) as is_retired_before_vintage,
    false as has_contradictory_ca,
    placeholder_columns,
    placeholder_columns is not null as has_placeholder_value,
    created_at,
    record_source
from joined
