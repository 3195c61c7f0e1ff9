{#- v2 project locations; the country is keyed like v1's (country_key, matched on the
    country_codes seed downstream). -#}
with source as (
    select * from {{ source('cadt_v2', 'location') }}
),

renamed as (
    select
        cad_trust_location_id,
        cad_trust_project_id,
        created_by_org_uid,
        {{ clean_text('location_country') }} as country_raw,
        case when not {{ is_placeholder('location_country') }}
            then {{ text_key('location_country') }} end as country_key,
        {{ clean_text('location_region') }} as in_country_region,
        location_gis,
        location_map_type,
        location_map_file_link,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
