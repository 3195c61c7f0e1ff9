{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'doc_id', 'org': 'org_uid',
                      'data_model': 'data_model', 'also': "doc_type = 'project'"}},
    post_hook="{{ create_search_macro(this) }}",
) }}
{#- One row per searchable record: every current project record, and every current unit record,
    of both data models (`data_model`; superseded v1 records are left out: their v2 twins are in).
    name_key / search_text are text_key()s (lower case, no accents or punctuation), so matching
    is accent- and case-insensitive. Units carry their project's registry, country, developer and
    methodology for the filters, but not its name (a project's units would drown it). The table
    macro marts.search(q, ...) (macros/search.sql, created after this model) is the query;
    `cadt-mirror search` calls it.
    Incremental (macros/incremental.sql): a build rewrites every project document (a few per
    thousand units) and the unit documents of the unit records the new syncs can have changed. -#}
{%- set plan = changes_plan() %}
-- depends_on: {{ ref('country_codes') }}
-- depends_on: {{ ref('registry_aliases') }}
with projects as (
    select * from {{ ref('dim_projects') }}
    where project_record_status = 'current' and is_superseded is not true
),

units as (
    select * from {{ ref('int_units_enriched') }}
    where {{ changes_scope(plan, unit='warehouse_unit_id') }}
      and is_superseded is not true
),

project_docs as (
    select
        'project' as doc_type,
        warehouse_project_id as doc_id,
        data_model,
        org_uid,
        organization_name,
        warehouse_project_id,
        project_name as title,
        registry,
        registry_project_id,
        host_country_iso3_list as country_iso3_list,
        {{ text_key('host_country_names') }} as country_keys,
        project_developer as developer,
        developer_key,
        concat_ws('; ', methodology, methodology2) as methodology,
        cast(null as bigint) as vintage_year,
        cast(null as varchar) as unit_status,
        quantity_issued as quantity,
        cast(null as varchar) as serial_number_block,
        cast(null as varchar) as serial_prefix_key,
        cast(null as hugeint) as serial_start_number,
        cast(null as hugeint) as serial_end_number,
        {{ text_key('project_name') }} as name_key,
        {{ text_key("concat_ws(' ', project_name, registry_project_id, origin_project_id,
            project_developer, registry, registry_of_origin, program, host_country_names,
            host_country_iso3_list, methodology, methodology2, sector, project_type,
            organization_name, warehouse_project_id)") }} as search_text
    from projects
),

unit_docs as (
    select
        'unit' as doc_type,
        units.warehouse_unit_id as doc_id,
        units.data_model,
        units.org_uid,
        projects.organization_name,
        units.warehouse_project_id,
        coalesce(units.project_name, '(no current project)') || ' · '
            || coalesce(units.serial_number_block, units.warehouse_unit_id) as title,
        units.registry,
        projects.registry_project_id,
        units.host_country_iso3 as country_iso3_list,
        {{ text_key('projects.host_country_names') }} as country_keys,
        projects.project_developer as developer,
        units.developer_key,
        concat_ws('; ', projects.methodology, projects.methodology2) as methodology,
        units.vintage_year,
        units.unit_status,
        units.unit_count as quantity,
        units.serial_number_block,
        case when units.serial_block_parsed then lower(units.serial_prefix) end as serial_prefix_key,
        case when units.serial_block_parsed then units.serial_start_number end as serial_start_number,
        case when units.serial_block_parsed then units.serial_end_number end as serial_end_number,
        cast(null as varchar) as name_key,
        {{ text_key("concat_ws(' ', units.warehouse_unit_id, units.serial_number_block,
            units.unit_owner, units.unit_status_reason, units.marketplace_identifier)") }} as search_text
    from units
    left join projects on projects.warehouse_project_id = units.warehouse_project_id
)

select * from project_docs
where {{ 'false' if plan.mode == 'none' else 'true' }}
union all
select * from unit_docs
