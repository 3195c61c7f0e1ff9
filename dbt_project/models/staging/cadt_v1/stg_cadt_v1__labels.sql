with source as (
    select * from {{ source('cadt_v1', 'labels') }}
),

renamed as (
    select
        id as label_id,
        warehouse_project_id,
        org_uid,
        {{ clean_text('label') }} as label,
        {{ clean_text('label_type') }} as label_type,
        -- Article 6 family of the label type (v1 names; v2 "Article 6 - ..." names also recognised)
        case
            when {{ text_key('label_type') }} like '%authori%' then 'authorization'
            when {{ text_key('label_type') }} like '%approval%' then 'approval'
            when {{ text_key('label_type') }} like '%qualification%' then 'qualification'
            when {{ text_key('label_type') }} like '%endorsement%' then 'endorsement'
            when {{ text_key('label_type') }} like '%certification%' then 'certification'
            when label_type is null then null
            else 'other'
        end as label_family,
        unit_quantity,
        label_link,
        crediting_period_start_date,
        crediting_period_end_date,
        validity_period_start_date,
        validity_period_end_date,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
