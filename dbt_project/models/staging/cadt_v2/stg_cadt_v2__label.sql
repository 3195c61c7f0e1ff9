{#- v2 labels (standalone: attached to unit records through unit_label), with the Article 6
    family of their type as in stg_cadt_v1__labels. -#}
with source as (
    select * from {{ source('cadt_v2', 'label') }}
),

renamed as (
    select
        cad_trust_label_id,
        org_uid,
        {{ clean_text('label_name') }} as label_name,
        {{ clean_text('label_type') }} as label_type,
        case
            when {{ text_key('label_type') }} like '%authori%' then 'authorization'
            when {{ text_key('label_type') }} like '%approval%' then 'approval'
            when {{ text_key('label_type') }} like '%qualification%' then 'qualification'
            when {{ text_key('label_type') }} like '%endorsement%' then 'endorsement'
            when {{ text_key('label_type') }} like '%certification%' then 'certification'
            when label_type is null then null
            else 'other'
        end as label_family,
        label_link,
        label_date,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
