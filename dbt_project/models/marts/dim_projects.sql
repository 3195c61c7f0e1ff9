with projects as (
    select * from {{ ref('int_projects_enriched') }}
),

units as (
    select * from {{ ref('int_units_enriched') }}
    where warehouse_project_id is not null
),

unit_totals as (
    select
        warehouse_project_id,
        cast(sum(unit_count) as bigint) as quantity_issued,
        cast(sum(unit_count) filter (where status_group = 'retired') as bigint) as quantity_retired,
        cast(sum(unit_count) filter (where status_group = 'cancelled') as bigint) as quantity_cancelled,
        cast(sum(unit_count) filter (where status_group = 'expired') as bigint) as quantity_expired,
        cast(sum(unit_count) filter (where status_group = 'exported') as bigint) as quantity_exported,
        cast(sum(unit_count) filter (where status_group = 'outstanding') as bigint) as quantity_outstanding,
        count(*) as unit_record_count,
        min(vintage_year) as first_vintage_year,
        max(vintage_year) as last_vintage_year
    from units
    group by warehouse_project_id
),

first_seen as (
    -- first on-chain appearance of any unit record of the project (its first issuance on CADT)
    select
        units.warehouse_project_id,
        min(events.event_at) as first_event_at,
        min(units.created_at) as first_unit_created_at
    from units
    left join {{ ref('int_unit_status_events') }} as events
        on events.warehouse_unit_id = units.warehouse_unit_id
        and events.org_uid = units.org_uid
        and events.event_source = 'audit'
    group by units.warehouse_project_id
),

first_retirement as (
    select warehouse_project_id, min(retired_at) as first_retirement_at
    from {{ ref('fct_retirements') }}
    where warehouse_project_id is not null
    group by warehouse_project_id
),

candidates as (
    select warehouse_project_id, count(distinct other_project_id) as candidate_count
    from (
        select project_a_id as warehouse_project_id, project_b_id as other_project_id
        from {{ ref('mart_double_counting_candidates') }}
        union all
        select project_b_id, project_a_id
        from {{ ref('mart_double_counting_candidates') }}
    )
    group by warehouse_project_id
)

select
    projects.warehouse_project_id,
    projects.org_uid,
    projects.organization_name,
    projects.project_id as registry_project_id,
    projects.origin_project_id,
    projects.current_registry,
    projects.current_registry_raw,
    projects.registry_of_origin,
    projects.registry_of_origin_raw,
    projects.program,
    projects.project_name,
    projects.project_link,
    projects.project_developer,
    projects.developer_key,
    projects.sector,
    projects.project_type,
    projects.methodology,
    projects.methodology2,
    projects.project_status,
    projects.project_status_date,
    projects.validation_body,
    projects.validation_date,
    projects.unit_metric,
    projects.covered_by_ndc,
    projects.ndc_information,
    projects.host_country_count,
    projects.host_country_iso3_list,
    projects.host_country_names,
    projects.primary_host_country_iso3,
    projects.rating_count,
    projects.ratings_summary,
    projects.has_authorization_label,
    projects.has_approval_label,
    coalesce(unit_totals.unit_record_count, 0) as unit_record_count,
    coalesce(unit_totals.quantity_issued, 0) as quantity_issued,
    coalesce(unit_totals.quantity_retired, 0) as quantity_retired,
    coalesce(unit_totals.quantity_cancelled, 0) as quantity_cancelled,
    coalesce(unit_totals.quantity_expired, 0) as quantity_expired,
    coalesce(unit_totals.quantity_exported, 0) as quantity_exported,
    coalesce(unit_totals.quantity_outstanding, 0) as quantity_outstanding,
    unit_totals.first_vintage_year,
    unit_totals.last_vintage_year,
    coalesce(first_seen.first_event_at, first_seen.first_unit_created_at) as first_issuance_at,
    first_retirement.first_retirement_at,
    coalesce(candidates.candidate_count, 0) > 0 as is_double_counting_candidate,
    coalesce(candidates.candidate_count, 0) as double_counting_candidate_count,
    projects.record_source
from projects
left join unit_totals on unit_totals.warehouse_project_id = projects.warehouse_project_id
left join first_seen on first_seen.warehouse_project_id = projects.warehouse_project_id
left join first_retirement on first_retirement.warehouse_project_id = projects.warehouse_project_id
left join candidates on candidates.warehouse_project_id = projects.warehouse_project_id
