with source as (
    select * from {{ source('cadt_v1', 'co_benefits') }}
),

renamed as (
    select
        id as co_benefit_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('cobenefit') }} as co_benefit,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
