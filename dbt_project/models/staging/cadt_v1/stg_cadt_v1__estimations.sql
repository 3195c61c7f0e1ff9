with source as (
    select * from {{ source('cadt_v1', 'estimations') }}
),

renamed as (
    select
        id as estimation_id,
        warehouse_project_id,
        org_uid,
        crediting_period_start,
        crediting_period_end,
        unit_count as estimated_unit_count,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
