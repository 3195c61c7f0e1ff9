with source as (
    select * from {{ source('cadt_v1', 'projects') }}
),

renamed as (
    select
        -- ids
        warehouse_project_id,
        org_uid,
        {{ clean_text('project_id') }} as project_id,
        {{ clean_text('origin_project_id') }} as origin_project_id,
        {{ text_key('origin_project_id') }} as origin_project_id_key,
        -- registries (raw, and a key for the registry_aliases seed)
        {{ clean_text('current_registry') }} as current_registry_raw,
        {{ text_key('current_registry') }} as current_registry_key,
        {{ clean_text('registry_of_origin') }} as registry_of_origin_raw,
        {{ text_key('registry_of_origin') }} as registry_of_origin_key,
        {{ clean_text('program') }} as program,
        -- descriptive text
        {{ clean_text('project_name') }} as project_name,
        {{ text_key('project_name') }} as project_name_key,
        project_link,
        {{ clean_text('project_developer') }} as project_developer,
        {{ company_key('project_developer') }} as developer_key,
        {{ clean_text('sector') }} as sector,
        {{ text_key('sector') }} as sector_key,
        {{ clean_text('project_type') }} as project_type,
        project_tags,
        {{ clean_text('covered_by_ndc') }} as covered_by_ndc,
        ndc_information,
        {{ clean_text('project_status') }} as project_status,
        {{ clean_text('unit_metric') }} as unit_metric,
        {{ clean_text('methodology') }} as methodology,
        {{ clean_text('methodology2') }} as methodology2,
        {{ clean_text('validation_body') }} as validation_body,
        description,
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
