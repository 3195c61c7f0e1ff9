{#- v2 co-benefits of a project: `co_benefit_id` holds the SDG value (coBenefitId). -#}
with source as (
    select * from {{ source('cadt_v2', 'co_benefit') }}
),

renamed as (
    select
        cad_trust_co_benefit_id,
        cad_trust_project_id,
        created_by_org_uid,
        {{ clean_text('co_benefit_id') }} as co_benefit,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
