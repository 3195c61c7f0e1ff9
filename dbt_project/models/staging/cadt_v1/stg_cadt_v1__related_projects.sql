with source as (
    select * from {{ source('cadt_v1', 'related_projects') }}
),

renamed as (
    select
        id as related_project_link_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('related_project_id') }} as related_project_id,
        {{ clean_text('relationship_type') }} as relationship_type,
        {{ clean_text('registry') }} as registry_raw,
        {{ text_key('registry') }} as registry_key,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
