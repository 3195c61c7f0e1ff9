with source as (
    select * from {{ source('cadt_v2', 'verification') }}
),

renamed as (
    select
        cad_trust_verification_id,
        cad_trust_project_id,
        cad_trust_validation_id,
        created_by_org_uid,
        {{ clean_text('verification_id') }} as registry_verification_id,
        verification_start_date,
        verification_end_date,
        {{ null_if_placeholder('verification_body') }} as verification_body,
        verification_body as verification_body_raw,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
