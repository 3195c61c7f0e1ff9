with source as (
    select * from {{ source('cadt_v1', 'unit_labels') }}
),

renamed as (
    select
        id as unit_label_id,
        warehouse_unit_id,
        label_id,
        org_uid,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
