{#- v2 ratings of a project (one row per rating, as the node serves them). -#}
with source as (
    select * from {{ source('cadt_v2', 'rating') }}
),

renamed as (
    select
        cad_trust_rating_id,
        cad_trust_project_id,
        created_by_org_uid,
        {{ clean_text('rating_type') }} as rating_type,
        {{ clean_text('rating_name') }} as rating_name,
        {{ clean_text('rating_value') }} as rating_value,
        rating_link,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
