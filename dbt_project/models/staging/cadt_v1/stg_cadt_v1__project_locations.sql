with source as (
    select * from {{ source('cadt_v1', 'project_locations') }}
),

renamed as (
    select
        id as project_location_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('country') }} as country_raw,
        -- placeholders ('n.a.', 'unknown', ...) give no key: no country, and not "unmatched"
        case when not {{ is_placeholder('country') }} then {{ text_key('country') }} end as country_key,
        {{ null_if_placeholder('in_country_region') }} as in_country_region,
        geographic_identifier,
        file_id,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
