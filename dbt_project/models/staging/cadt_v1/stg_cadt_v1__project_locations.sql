with source as (
    select * from {{ source('cadt_v1', 'project_locations') }}
),

renamed as (
    select
        id as project_location_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('country') }} as country_raw,
        {{ text_key('country') }} as country_key,
        {{ clean_text('in_country_region') }} as in_country_region,
        geographic_identifier,
        file_id,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
