with source as (
    select * from {{ source('cadt_v1', 'pick_lists') }}
),

renamed as (
    select
        list_name,
        position as list_position,
        value as list_value,
        {{ text_key('value') }} as value_key,
        _synced_at as synced_at
    from source
)

select * from renamed
