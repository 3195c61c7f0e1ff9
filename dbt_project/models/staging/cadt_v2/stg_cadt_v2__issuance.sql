{#- v2 issuances. No project id: the project is the verification's (cadTrustVerificationId). -#}
with source as (
    select * from {{ source('cadt_v2', 'issuance') }}
),

renamed as (
    select
        cad_trust_issuance_id,
        cad_trust_verification_id,
        cad_trust_project_methodology_id,
        cad_trust_location_id,
        created_by_org_uid,
        {{ clean_text('issuance_id') }} as registry_issuance_id,
        issuance_date,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
