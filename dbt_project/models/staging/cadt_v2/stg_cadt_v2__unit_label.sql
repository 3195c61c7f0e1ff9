with source as (
    select * from {{ source('cadt_v2', 'unit_label') }}
),

renamed as (
    select
        cad_trust_unit_label_id,
        cad_trust_unit_id,
        cad_trust_label_id,
        created_by_org_uid,
        label_unit_date,
        label_unit_description,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
