{#- One row per issuance record of either data model (`data_model`; v2: the verification gives
    the project and the period; a v1 issuance of a superseded project has 0 credits), plus one row per issuance id that unit records reference but
    that is gone, and one 'unattributed:<org>' row per organization for unit records without an
    issuance, so that the totals add up to every unit record. -#}
with issuances as (
    select 'v1' as data_model, * from {{ ref('stg_cadt_v1__issuances') }}
),

-- v2 issuances: the project and the period are the verification's
v2_issuances as (
    select
        'v2' as data_model,
        i.cad_trust_issuance_id as issuance_id,
        true as issuance_exists,
        v.cad_trust_project_id as warehouse_project_id,
        p.org_uid,
        v.verification_start_date as issuance_start_date,
        v.verification_end_date as issuance_end_date,
        cast(null as varchar) as verification_approach,
        cast(null as timestamptz) as verification_report_date,
        v.verification_body,
        v.verification_body_raw,
        i.record_source
    from {{ ref('stg_cadt_v2__issuance') }} as i
    left join {{ ref('stg_cadt_v2__verification') }} as v
        on v.cad_trust_verification_id = i.cad_trust_verification_id
    left join {{ ref('stg_cadt_v2__project') }} as p on p.cad_trust_project_id = v.cad_trust_project_id
),

projects as (
    select * from {{ ref('int_projects_enriched') }}
),

units as (
    select * from {{ ref('int_units_enriched') }}
),

unit_totals as (
    select
        issuance_key,
        any_value(org_uid) as org_uid,
        any_value(project_key) as project_key,
        any_value(data_model) as data_model,
        cast(sum(quantity_issued) as bigint) as quantity_issued,
        cast(sum(quantity_retired) as bigint) as quantity_retired,
        cast(sum(quantity_cancelled) as bigint) as quantity_cancelled,
        cast(sum(quantity_outstanding) as bigint) as quantity_outstanding,
        count(*) as unit_record_count,
        min(vintage_year) as min_vintage_year,
        max(vintage_year) as max_vintage_year
    from units
    group by issuance_key
),

all_issuances as (
    select data_model, issuance_id, true as issuance_exists, warehouse_project_id, org_uid,
        issuance_start_date, issuance_end_date, verification_approach, verification_report_date,
        verification_body, verification_body_raw, record_source
    from issuances
    union all by name
    select * from v2_issuances
    union all by name
    select data_model, issuance_key as issuance_id, false as issuance_exists,
        project_key as warehouse_project_id, org_uid
    from unit_totals
    where issuance_key not in (select issuance_id from issuances)
      and issuance_key not in (select issuance_id from v2_issuances)
)

select
    i.issuance_id,
    i.data_model,
    coalesce(projects.is_superseded, false) as is_superseded,
    i.issuance_exists,
    i.warehouse_project_id,
    projects.warehouse_project_id is not null as project_exists,
    i.org_uid,
    projects.organization_name,
    projects.registry,
    projects.current_registry,
    projects.project_name,
    projects.primary_host_country_iso3 as host_country_iso3,
    i.issuance_start_date,
    i.issuance_end_date,
    i.verification_approach,
    i.verification_report_date,
    i.verification_body,
    i.verification_body_raw,
    coalesce(t.quantity_issued, 0) as quantity_issued,
    coalesce(t.quantity_retired, 0) as quantity_retired,
    coalesce(t.quantity_cancelled, 0) as quantity_cancelled,
    coalesce(t.quantity_outstanding, 0) as quantity_outstanding,
    coalesce(t.unit_record_count, 0) as unit_record_count,
    t.min_vintage_year,
    t.max_vintage_year,
    i.record_source
from all_issuances as i
left join projects on projects.warehouse_project_id = i.warehouse_project_id
left join unit_totals as t on t.issuance_key = i.issuance_id
