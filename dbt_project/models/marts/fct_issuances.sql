with issuances as (
    select * from {{ ref('stg_cadt_v1__issuances') }}
),

projects as (
    select * from {{ ref('int_projects_enriched') }}
),

unit_totals as (
    select
        issuance_id,
        cast(sum(unit_count) as bigint) as quantity_issued,
        cast(sum(unit_count) filter (where status_group = 'retired') as bigint) as quantity_retired,
        count(*) as unit_record_count,
        min(vintage_year) as min_vintage_year,
        max(vintage_year) as max_vintage_year
    from {{ ref('int_units_enriched') }}
    where issuance_id is not null
    group by issuance_id
)

select
    issuances.issuance_id,
    issuances.warehouse_project_id,
    projects.warehouse_project_id is not null as project_exists,
    issuances.org_uid,
    projects.organization_name,
    projects.current_registry,
    projects.project_name,
    projects.primary_host_country_iso3 as host_country_iso3,
    issuances.issuance_start_date,
    issuances.issuance_end_date,
    issuances.verification_approach,
    issuances.verification_report_date,
    issuances.verification_body,
    coalesce(unit_totals.quantity_issued, 0) as quantity_issued,
    coalesce(unit_totals.quantity_retired, 0) as quantity_retired,
    coalesce(unit_totals.unit_record_count, 0) as unit_record_count,
    unit_totals.min_vintage_year,
    unit_totals.max_vintage_year,
    issuances.record_source
from issuances
left join projects on projects.warehouse_project_id = issuances.warehouse_project_id
left join unit_totals on unit_totals.issuance_id = issuances.issuance_id
