{#- One row per project record of either data model (`data_model`; a v1 project republished in
    v2 is kept, `is_superseded`, with 0 credits: its v2 row counts them), plus one row per deleted project whose unit records stay behind
    and one 'unattributed:<org>' row per organization for unit records without a known project,
    so that the totals add up to every unit record (project_record_status says which). The
    numbers are sums of int_units_enriched's quantity columns. -#}
with projects as (
    select * from {{ ref('int_projects_enriched') }}
),

units as (
    select * from {{ ref('int_units_enriched') }}
),

organizations as (
    select * from {{ ref('int_organizations') }}
),

unit_totals as (
    select
        project_key,
        count(*) as unit_record_count,
        cast(sum(quantity_issued) as bigint) as quantity_issued,
        cast(sum(quantity_retired) as bigint) as quantity_retired,
        cast(sum(quantity_cancelled) as bigint) as quantity_cancelled,
        cast(sum(quantity_expired) as bigint) as quantity_expired,
        cast(sum(quantity_exported) as bigint) as quantity_exported,
        cast(sum(quantity_outstanding) as bigint) as quantity_outstanding,
        min(vintage_year) as first_vintage_year,
        max(vintage_year) as last_vintage_year,
        min(retired_at) as first_retirement_at
    from units
    group by project_key
),

-- deleted projects and unattributed unit records: what the units say about them
other_projects as (
    select
        project_key as warehouse_project_id,
        any_value(project_record_status) as project_record_status,
        any_value(data_model) as data_model,
        false as is_superseded,
        any_value(org_uid) as org_uid,
        any_value(registry) as registry,
        any_value(registry_source) as registry_source,
        '(unknown)' as developer_key,
        count(distinct host_country_iso3) as host_country_count,
        string_agg(distinct host_country_iso3, ';' order by host_country_iso3) as host_country_iso3_list,
        mode(host_country_iso3) as primary_host_country_iso3,
        false as has_authorization_label,
        false as has_approval_label,
        false as has_placeholder_value,
        0 as rating_count
    from units
    where project_record_status <> 'current'
    group by project_key
),

all_projects as (
    select 'current' as project_record_status, * from projects
    union all by name
    select other_projects.*, organizations.organization_name
    from other_projects
    left join organizations on organizations.org_uid = other_projects.org_uid
),

first_seen as (
    -- first on-chain appearance of any unit record of the project (its first issuance on CADT)
    select
        units.project_key,
        min(events.event_at) as first_event_at,
        min(units.created_at) as first_unit_created_at
    from units
    left join {{ ref('int_unit_status_events') }} as events
        on events.warehouse_unit_id = units.warehouse_unit_id
        and events.org_uid = units.org_uid
        and events.event_source = 'audit'
    group by units.project_key
),

candidate_pairs as (
    select project_a_id as warehouse_project_id, project_b_id as other_project_id, tier
    from {{ ref('mart_double_counting_candidates') }}
    union all
    select project_b_id, project_a_id, tier
    from {{ ref('mart_double_counting_candidates') }}
),

candidates as (
    select
        warehouse_project_id,
        count(distinct other_project_id) as candidate_count,
        min(tier) as best_tier
    from candidate_pairs
    group by warehouse_project_id
)

select
    p.warehouse_project_id,
    p.data_model,
    p.is_superseded,
    p.project_record_status,
    p.org_uid,
    p.organization_name,
    p.project_id as registry_project_id,
    p.project_id_raw as registry_project_id_raw,
    p.origin_project_id,
    p.origin_project_id_raw,
    p.registry,
    p.registry_source,
    p.current_registry,
    p.current_registry_raw,
    p.registry_of_origin,
    p.registry_of_origin_raw,
    p.program,
    p.program_raw,
    p.project_name,
    p.project_link,
    p.project_developer,
    p.project_developer_raw,
    p.developer_key,
    p.sector,
    p.project_type,
    p.methodology,
    p.methodology_raw,
    p.methodology2,
    p.methodology2_raw,
    p.project_status,
    p.project_status_date,
    p.validation_body,
    p.validation_body_raw,
    p.validation_date,
    p.unit_metric,
    p.covered_by_ndc,
    p.ndc_information,
    p.host_country_count,
    p.host_country_iso3_list,
    p.host_country_names,
    p.primary_host_country_iso3,
    p.rating_count,
    p.ratings_summary,
    p.has_authorization_label,
    p.has_approval_label,
    p.has_placeholder_value,
    p.placeholder_columns,
    coalesce(t.unit_record_count, 0) as unit_record_count,
    coalesce(t.quantity_issued, 0) as quantity_issued,
    coalesce(t.quantity_retired, 0) as quantity_retired,
    coalesce(t.quantity_cancelled, 0) as quantity_cancelled,
    coalesce(t.quantity_expired, 0) as quantity_expired,
    coalesce(t.quantity_exported, 0) as quantity_exported,
    coalesce(t.quantity_outstanding, 0) as quantity_outstanding,
    t.first_vintage_year,
    t.last_vintage_year,
    coalesce(first_seen.first_event_at, first_seen.first_unit_created_at) as first_issuance_at,
    t.first_retirement_at,
    coalesce(candidates.candidate_count, 0) > 0 as is_double_counting_candidate,
    coalesce(candidates.candidate_count, 0) as double_counting_candidate_count,
    candidates.best_tier as double_counting_best_tier,
    p.record_source
from all_projects as p
left join unit_totals as t on t.project_key = p.warehouse_project_id
left join first_seen on first_seen.project_key = p.warehouse_project_id
left join candidates on candidates.warehouse_project_id = p.warehouse_project_id
