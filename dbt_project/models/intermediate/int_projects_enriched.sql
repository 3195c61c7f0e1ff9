{#- One row per project record: organisation, normalised registries, host countries, ratings and
    Article 6 labels. Still no unit numbers (those come in the marts). -#}
with projects as (
    select * from {{ ref('stg_cadt_v1__projects') }}
),

organizations as (
    select * from {{ ref('stg_cadt_v1__organizations') }}
),

registries as (
    select * from {{ ref('registry_aliases') }}
),

locations as (
    select * from {{ ref('int_project_locations_harmonised') }}
),

host_countries as (
    select
        warehouse_project_id,
        count(*) as location_count,
        count(distinct country_iso3) as host_country_count,
        string_agg(distinct country_iso3, ';' order by country_iso3) as host_country_iso3_list,
        string_agg(distinct country_raw, '; ' order by country_raw) as host_country_names,
        first(country_iso3 order by created_at nulls last, project_location_id)
            filter (where country_iso3 is not null) as primary_host_country_iso3,
        count(*) filter (where country_raw is not null and country_iso3 is null) as unmatched_country_count
    from locations
    group by warehouse_project_id
),

ratings as (
    select
        warehouse_project_id,
        count(*) as rating_count,
        string_agg(coalesce(rating_type, '?') || ': ' || coalesce(rating, '?'), '; '
            order by rating_type, rating) as ratings_summary
    from {{ ref('stg_cadt_v1__project_ratings') }}
    group by warehouse_project_id
),

project_labels as (
    select
        warehouse_project_id,
        bool_or(label_family = 'authorization') as has_authorization_label,
        bool_or(label_family = 'approval') as has_approval_label,
        bool_or(label_family = 'qualification') as has_qualification_label,
        bool_or(label_family = 'endorsement') as has_endorsement_label
    from {{ ref('stg_cadt_v1__labels') }}
    where warehouse_project_id is not null
    group by warehouse_project_id
)

select
    projects.warehouse_project_id,
    projects.org_uid,
    organizations.organization_name,
    projects.project_id,
    projects.origin_project_id,
    projects.origin_project_id_key,
    projects.current_registry_raw,
    coalesce(current_reg.registry_name, projects.current_registry_raw) as current_registry,
    projects.registry_of_origin_raw,
    coalesce(origin_reg.registry_name, projects.registry_of_origin_raw) as registry_of_origin,
    projects.program,
    projects.project_name,
    projects.project_name_key,
    projects.project_link,
    projects.project_developer,
    coalesce(projects.developer_key, '(unknown)') as developer_key,
    projects.sector,
    projects.sector_key,
    projects.project_type,
    projects.methodology,
    projects.methodology2,
    projects.project_status,
    projects.project_status_date,
    projects.covered_by_ndc,
    projects.ndc_information,
    projects.unit_metric,
    projects.validation_body,
    projects.validation_date,
    coalesce(host_countries.location_count, 0) as location_count,
    coalesce(host_countries.host_country_count, 0) as host_country_count,
    host_countries.host_country_iso3_list,
    host_countries.host_country_names,
    host_countries.primary_host_country_iso3,
    coalesce(host_countries.unmatched_country_count, 0) as unmatched_country_count,
    coalesce(ratings.rating_count, 0) as rating_count,
    ratings.ratings_summary,
    coalesce(project_labels.has_authorization_label, false) as has_authorization_label,
    coalesce(project_labels.has_approval_label, false) as has_approval_label,
    coalesce(project_labels.has_qualification_label, false) as has_qualification_label,
    coalesce(project_labels.has_endorsement_label, false) as has_endorsement_label,
    projects.created_at,
    projects.record_source
from projects
left join organizations on organizations.org_uid = projects.org_uid
left join registries as current_reg on current_reg.registry_key = projects.current_registry_key
left join registries as origin_reg on origin_reg.registry_key = projects.registry_of_origin_key
left join host_countries on host_countries.warehouse_project_id = projects.warehouse_project_id
left join ratings on ratings.warehouse_project_id = projects.warehouse_project_id
left join project_labels on project_labels.warehouse_project_id = projects.warehouse_project_id
