with source as (
    select * from {{ source('cadt_v1', 'units') }}
),

renamed as (
    select
        -- ids
        warehouse_unit_id,
        issuance_id,
        project_location_id,
        org_uid,
        -- ownership
        {{ clean_text('unit_owner') }} as unit_owner,
        {{ clean_text('country_jurisdiction_of_owner') }} as owner_country_raw,
        {{ text_key('country_jurisdiction_of_owner') }} as owner_country_key,
        {{ clean_text('in_country_jurisdiction_of_owner') }} as owner_in_country_jurisdiction,
        -- serial block
        serial_number_block,
        unit_block_start,
        unit_block_end,
        {{ serial_prefix('unit_block_start') }} as serial_prefix,
        {{ serial_number('unit_block_start') }} as serial_start_number,
        {{ serial_number('unit_block_end') }} as serial_end_number,
        {{ serial_prefix('unit_block_end') }} as serial_end_prefix,
        -- numbers
        coalesce(unit_count, 0) as unit_count,
        unit_count is null as unit_count_missing,
        vintage_year,
        -- classification
        {{ clean_text('unit_type') }} as unit_type,
        unit_status as unit_status_raw,
        {{ canonical_unit_status('unit_status') }} as unit_status,
        {{ clean_text('unit_status_reason') }} as unit_status_reason,
        unit_tags,
        -- marketplace
        {{ clean_text('marketplace') }} as marketplace,
        marketplace_link,
        marketplace_identifier,
        unit_registry_link,
        -- Article 6
        {{ clean_text('corresponding_adjustment_declaration') }} as corresponding_adjustment_declaration,
        {{ clean_text('corresponding_adjustment_status') }} as corresponding_adjustment_status,
        -- timestamps
        time_staged,
        created_at,
        updated_at,
        -- mirror
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
