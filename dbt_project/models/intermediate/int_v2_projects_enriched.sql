{#- One row per v2 project record, with the columns of int_projects_enriched (which unions it
    with the v1 projects): organisation, harmonised registry (projectRegistryName through
    registry_aliases, else the organization's registry), host countries (v2 locations), the
    developer (a stakeholder of type Developer linked through stakeholder_projects), the
    methodology (project_methodology -> methodology). v2 has no project-level labels (labels
    attach to unit records), no origin registry and no NDC coverage: those are NULL / false. -#}
with projects as (
    select * from {{ ref('stg_cadt_v2__project') }}
),

organizations as (
    select * from {{ ref('int_organizations') }}
),

registries as (
    select * from {{ ref('registry_aliases') }}
),

locations as (
    select * from {{ ref('int_v2_locations_harmonised') }}
),

host_countries as (
    select
        cad_trust_project_id,
        count(*) as location_count,
        count(distinct country_iso3) as host_country_count,
        string_agg(distinct country_iso3, ';' order by country_iso3) as host_country_iso3_list,
        string_agg(distinct country_raw, '; ' order by country_raw) as host_country_names,
        first(country_iso3 order by created_at nulls last, cad_trust_location_id)
            filter (where country_iso3 is not null) as primary_host_country_iso3,
        count(*) filter (where country_key is not null and country_iso3 is null) as unmatched_country_count
    from locations
    group by cad_trust_project_id
),

developers as (
    select
        links.cad_trust_project_id,
        -- (ties broken to the same stakeholder for every column: one answer on every build)
        first(s.stakeholder_name order by s.stakeholder_name, s.stakeholder_name_raw,
              s.cad_trust_stakeholder_id) as project_developer,
        first(s.stakeholder_name_raw order by s.stakeholder_name, s.stakeholder_name_raw,
              s.cad_trust_stakeholder_id) as project_developer_raw,
        first(s.stakeholder_key order by s.stakeholder_name, s.stakeholder_name_raw,
              s.cad_trust_stakeholder_id) as developer_key
    from {{ ref('stg_cadt_v2__stakeholder_projects') }} as links
    inner join {{ ref('stg_cadt_v2__stakeholder') }} as s
        on s.cad_trust_stakeholder_id = links.cad_trust_stakeholder_id
    where s.stakeholder_type = 'Developer' and s.stakeholder_name is not null
    group by links.cad_trust_project_id
),

methodologies as (
    select
        pm.cad_trust_project_id,
        string_agg(distinct coalesce(m.methodology_code, m.methodology_name), '; '
                   order by coalesce(m.methodology_code, m.methodology_name)) as methodology
    from {{ source('cadt_v2', 'project_methodology') }} as pm
    inner join {{ source('cadt_v2', 'methodology') }} as m
        on m.cad_trust_methodology_id = pm.cad_trust_methodology_id
    group by pm.cad_trust_project_id
)

select
    'v2' as data_model,
    false as is_superseded,
    projects.cad_trust_project_id as warehouse_project_id,
    projects.org_uid,
    organizations.organization_name,
    projects.project_id,
    projects.project_id_raw,
    projects.project_id_key,
    cast(null as varchar) as origin_project_id,
    cast(null as varchar) as origin_project_id_raw,
    cast(null as varchar) as origin_project_id_key,
    projects.project_registry_name_raw as current_registry_raw,
    coalesce(current_reg.registry_name, projects.project_registry_name) as current_registry,
    cast(null as varchar) as registry_of_origin_raw,
    cast(null as varchar) as registry_of_origin,
    coalesce(current_reg.registry_name, projects.project_registry_name,
             organizations.organization_registry) as registry,
    case
        when projects.project_registry_name is not null then 'current_registry'
        when organizations.organization_registry is not null then 'organization'
        else 'unknown'
    end as registry_source,
    projects.project_crediting_program as program,
    projects.project_crediting_program as program_raw,
    projects.project_name,
    projects.project_name_key,
    projects.project_link,
    developers.project_developer,
    developers.project_developer_raw,
    coalesce(developers.developer_key, '(unknown)') as developer_key,
    projects.sector,
    {{ text_key('projects.sector') }} as sector_key,
    projects.project_type,
    methodologies.methodology,
    methodologies.methodology as methodology_raw,
    cast(null as varchar) as methodology2,
    cast(null as varchar) as methodology2_raw,
    projects.project_status,
    projects.project_status_date,
    cast(null as varchar) as covered_by_ndc,
    cast(null as varchar) as ndc_information,
    projects.unit_metric,
    cast(null as varchar) as validation_body,
    cast(null as varchar) as validation_body_raw,
    cast(null as timestamptz) as validation_date,
    coalesce(host_countries.location_count, 0) as location_count,
    coalesce(host_countries.host_country_count, 0) as host_country_count,
    host_countries.host_country_iso3_list,
    host_countries.host_country_names,
    host_countries.primary_host_country_iso3,
    coalesce(host_countries.unmatched_country_count, 0) as unmatched_country_count,
    0 as rating_count,
    cast(null as varchar) as ratings_summary,
    false as has_authorization_label,
    false as has_approval_label,
    false as has_qualification_label,
    false as has_endorsement_label,
    projects.placeholder_columns,
    projects.placeholder_columns is not null as has_placeholder_value,
    projects.created_at,
    projects.record_source
from projects
left join organizations on organizations.org_uid = projects.org_uid
left join registries as current_reg on current_reg.registry_key = projects.project_registry_key
left join host_countries on host_countries.cad_trust_project_id = projects.cad_trust_project_id
left join developers on developers.cad_trust_project_id = projects.cad_trust_project_id
left join methodologies on methodologies.cad_trust_project_id = projects.cad_trust_project_id
