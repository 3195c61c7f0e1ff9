{#- One row per project record: organisation, normalised registries, host countries, ratings and
    Article 6 labels. Still no unit numbers (those come from int_units_enriched).
    `registry` is the harmonised registry (docs/counting-rules.md, Registries): currentRegistry,
    else registryOfOrigin, else the publishing organization's registry; `registry_source` says
    which. Each is mapped through registry_aliases (unmatched names kept as published).
    Both data models (docs/counting-rules.md, Both data models): the v2 projects
    (int_v2_projects_enriched) are unioned in, `data_model` says which; a v1 project is
    `is_superseded` when its organization also publishes v2 and one of its v2 projects has the
    same registry project id (projectId, compared on text_key): that v2 project counts instead. -#}
with projects as (
    select * from {{ ref('stg_cadt_v1__projects') }}
),

organizations as (
    select * from {{ ref('int_organizations') }}
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
        count(*) filter (where country_key is not null and country_iso3 is null) as unmatched_country_count
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
),

-- v2 projects a v1 project of the same organization is republished as
v2_project_ids as (
    select distinct org_uid, project_id_key
    from {{ ref('stg_cadt_v2__project') }}
    where project_id_key is not null
),

v1 as (
select
    'v1' as data_model,
    coalesce(v2_project_ids.project_id_key is not null, false) as is_superseded,
    projects.warehouse_project_id,
    projects.org_uid,
    organizations.organization_name,
    projects.project_id,
    projects.project_id_raw,
    {{ text_key('projects.project_id') }} as project_id_key,
    projects.origin_project_id,
    projects.origin_project_id_raw,
    projects.origin_project_id_key,
    projects.current_registry_raw,
    coalesce(current_reg.registry_name, projects.current_registry) as current_registry,
    projects.registry_of_origin_raw,
    coalesce(origin_reg.registry_name, projects.registry_of_origin) as registry_of_origin,
    coalesce(
        current_reg.registry_name, projects.current_registry,
        origin_reg.registry_name, projects.registry_of_origin,
        organizations.organization_registry
    ) as registry,
    case
        when projects.current_registry is not null then 'current_registry'
        when projects.registry_of_origin is not null then 'registry_of_origin'
        when organizations.organization_registry is not null then 'organization'
        else 'unknown'
    end as registry_source,
    projects.program,
    projects.program_raw,
    projects.project_name,
    projects.project_name_key,
    projects.project_link,
    projects.project_developer,
    projects.project_developer_raw,
    coalesce(projects.developer_key, '(unknown)') as developer_key,
    projects.sector,
    projects.sector_key,
    projects.project_type,
    projects.methodology,
    projects.methodology_raw,
    projects.methodology2,
    projects.methodology2_raw,
    projects.project_status,
    projects.project_status_date,
    projects.covered_by_ndc,
    projects.ndc_information,
    projects.unit_metric,
    projects.validation_body,
    projects.validation_body_raw,
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
    projects.placeholder_columns,
    projects.placeholder_columns is not null as has_placeholder_value,
    projects.created_at,
    projects.record_source
from projects
left join organizations on organizations.org_uid = projects.org_uid
left join registries as current_reg on current_reg.registry_key = projects.current_registry_key
left join registries as origin_reg on origin_reg.registry_key = projects.registry_of_origin_key
left join host_countries on host_countries.warehouse_project_id = projects.warehouse_project_id
left join ratings on ratings.warehouse_project_id = projects.warehouse_project_id
left join project_labels on project_labels.warehouse_project_id = projects.warehouse_project_id
left join v2_project_ids
    on v2_project_ids.org_uid = projects.org_uid
    and v2_project_ids.project_id_key = {{ text_key('projects.project_id') }}
)

select * from v1
union all by name
select * from {{ ref('int_v2_projects_enriched') }}
