with source as (
    select * from {{ source('cadt_v2', 'stakeholder_projects') }}
),

renamed as (
    select
        cad_trust_stakeholder_project_id,
        cad_trust_stakeholder_id,
        cad_trust_project_id,
        created_by_org_uid,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
