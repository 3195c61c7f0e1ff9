{#- One row per normalised developer. Credits of deleted projects and of unit records without a
    known project are under '(unknown)', so the totals add up to every unit record. -#}
with projects as (
    select * from {{ ref('dim_projects') }}
),

countries as (
    select distinct p.developer_key, l.country_iso3
    from projects as p
    inner join (
        select warehouse_project_id, country_iso3 from {{ ref('int_project_locations_harmonised') }}
        union all
        select cad_trust_project_id, country_iso3 from {{ ref('int_v2_locations_harmonised') }}
    ) as l
        on l.warehouse_project_id = p.warehouse_project_id
    where l.country_iso3 is not null and p.is_superseded is not true
),

country_lists as (
    select
        developer_key,
        count(*) as country_count,
        string_agg(country_iso3, ';' order by country_iso3) as country_iso3_list
    from countries
    group by developer_key
)

select
    projects.developer_key,
    -- the most frequent spelling among its project records
    mode(projects.project_developer) as developer_name,
    count(distinct projects.project_developer) as developer_spelling_count,
    count(*) filter (where projects.project_record_status = 'current' and projects.is_superseded is not true)
        as project_count,
    string_agg(distinct projects.data_model, ',' order by projects.data_model)
        filter (where projects.is_superseded is not true) as data_models,
    count(distinct projects.org_uid) as organization_count,
    count(distinct projects.registry) as registry_count,
    string_agg(distinct projects.registry, '; ' order by projects.registry) as registries,
    coalesce(any_value(country_lists.country_count), 0) as country_count,
    any_value(country_lists.country_iso3_list) as country_iso3_list,
    cast(sum(projects.quantity_issued) as bigint) as quantity_issued,
    cast(sum(projects.quantity_retired) as bigint) as quantity_retired,
    cast(sum(projects.quantity_cancelled) as bigint) as quantity_cancelled,
    cast(sum(projects.quantity_outstanding) as bigint) as quantity_outstanding,
    min(projects.first_issuance_at) as first_issuance_at,
    count(*) filter (where projects.is_double_counting_candidate) as double_counting_candidate_projects
from projects
left join country_lists on country_lists.developer_key = projects.developer_key
group by projects.developer_key
