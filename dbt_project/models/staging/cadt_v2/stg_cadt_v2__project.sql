{#- v2 projects. `projectSector` / `projectType` are JSON arrays: their values are joined with
    '; ' (sector, project_type). The registry project id (projectId) is cleaned like v1's, and its
    text_key (`project_id_key`) is what a v1 project of the same organization is matched on. -#}
with source as (
    select * from {{ source('cadt_v2', 'project') }}
),

renamed as (
    select
        -- ids
        cad_trust_project_id,
        org_uid,
        {{ null_if_placeholder('project_id') }} as project_id,
        project_id as project_id_raw,
        case when not {{ is_placeholder('project_id') }}
            then {{ text_key('project_id') }} end as project_id_key,
        cad_trust_program_id,
        cad_trust_reference_project_id,
        -- registry
        project_registry_name as project_registry_name_raw,
        case when not {{ is_placeholder('project_registry_name') }}
            then {{ text_key('project_registry_name') }} end as project_registry_key,
        {{ null_if_placeholder('project_registry_name') }} as project_registry_name,
        project_crediting_program,
        -- description
        {{ clean_text('project_name') }} as project_name,
        {{ text_key('project_name') }} as project_name_key,
        project_link,
        project_description,
        nullif(array_to_string(cast(project_sector as varchar[]), '; '), '') as sector,
        cast(project_sector as varchar) as sector_raw,
        nullif(array_to_string(cast(project_type as varchar[]), '; '), '') as project_type,
        cast(project_type as varchar) as project_type_raw,
        {{ clean_text('project_subtype') }} as project_subtype,
        {{ clean_text('project_status') }} as project_status,
        project_status_date,
        {{ clean_text('project_unit_metric') }} as unit_metric,
        {{ placeholder_columns({
            'project_id': 'project_id', 'project_registry_name': 'project_registry_name',
        }) }} as placeholder_columns,
        -- timestamps
        created_at,
        updated_at,
        -- mirror
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
