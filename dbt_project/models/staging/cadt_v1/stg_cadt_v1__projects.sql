{#- Placeholders ('n.a.', 'N/A', '-', 'unknown', ...) in the descriptive columns become NULL; the
    value as published is kept in `<column>_raw`, and `placeholder_columns` names the columns
    that had one. -#}
with source as (
    select * from {{ source('cadt_v1', 'projects') }}
),

renamed as (
    select
        -- ids
        warehouse_project_id,
        org_uid,
        {{ null_if_placeholder('project_id') }} as project_id,
        project_id as project_id_raw,
        {{ null_if_placeholder('origin_project_id') }} as origin_project_id,
        origin_project_id as origin_project_id_raw,
        case when not {{ is_placeholder('origin_project_id') }}
            then {{ text_key('origin_project_id') }} end as origin_project_id_key,
        -- registries (as published, and a key for the registry_aliases seed)
        current_registry as current_registry_raw,
        case when not {{ is_placeholder('current_registry') }}
            then {{ text_key('current_registry') }} end as current_registry_key,
        {{ null_if_placeholder('current_registry') }} as current_registry,
        registry_of_origin as registry_of_origin_raw,
        case when not {{ is_placeholder('registry_of_origin') }}
            then {{ text_key('registry_of_origin') }} end as registry_of_origin_key,
        {{ null_if_placeholder('registry_of_origin') }} as registry_of_origin,
        {{ null_if_placeholder('program') }} as program,
        program as program_raw,
        -- descriptive text
        {{ clean_text('project_name') }} as project_name,
        {{ text_key('project_name') }} as project_name_key,
        project_link,
        {{ null_if_placeholder('project_developer') }} as project_developer,
        project_developer as project_developer_raw,
        case when not {{ is_placeholder('project_developer') }}
            then {{ company_key('project_developer') }} end as developer_key,
        {{ null_if_placeholder('sector') }} as sector,
        sector as sector_raw,
        case when not {{ is_placeholder('sector') }} then {{ text_key('sector') }} end as sector_key,
        {{ null_if_placeholder('project_type') }} as project_type,
        project_type as project_type_raw,
        project_tags,
        {{ clean_text('covered_by_ndc') }} as covered_by_ndc,
        ndc_information,
        {{ clean_text('project_status') }} as project_status,
        {{ clean_text('unit_metric') }} as unit_metric,
        {{ null_if_placeholder('methodology') }} as methodology,
        methodology as methodology_raw,
        {{ null_if_placeholder('methodology2') }} as methodology2,
        methodology2 as methodology2_raw,
        {{ null_if_placeholder('validation_body') }} as validation_body,
        validation_body as validation_body_raw,
        description,
        {{ placeholder_columns({
            'project_id': 'project_id', 'origin_project_id': 'origin_project_id',
            'current_registry': 'current_registry', 'registry_of_origin': 'registry_of_origin',
            'program': 'program', 'project_developer': 'project_developer', 'sector': 'sector',
            'project_type': 'project_type', 'methodology': 'methodology',
            'methodology2': 'methodology2', 'validation_body': 'validation_body',
        }) }} as placeholder_columns,
        -- timestamps
        project_status_date,
        validation_date,
        time_staged,
        created_at,
        updated_at,
        -- mirror
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
