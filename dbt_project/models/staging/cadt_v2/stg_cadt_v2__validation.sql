{#- v2 validations of a project (validation body, type, crediting period). -#}
with source as (
    select * from {{ source('cadt_v2', 'validation') }}
),

renamed as (
    select
        cad_trust_validation_id,
        cad_trust_project_id,
        created_by_org_uid,
        {{ clean_text('validation_id') }} as validation_id,
        {{ clean_text('validation_type') }} as validation_type,
        {{ clean_text('validation_body') }} as validation_body,
        validation_date,
        validation_credit_period_start_date,
        validation_credit_period_end_date,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
