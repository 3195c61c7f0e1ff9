with source as (
    select * from {{ source('cadt_v1', 'project_ratings') }}
),

renamed as (
    select
        id as project_rating_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('rating_type') }} as rating_type,
        {{ clean_text('rating') }} as rating,
        {{ clean_text('rating_range_lowest') }} as rating_range_lowest,
        {{ clean_text('rating_range_highest') }} as rating_range_highest,
        rating_link,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
