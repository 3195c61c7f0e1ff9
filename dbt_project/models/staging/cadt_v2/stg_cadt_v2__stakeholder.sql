{#- v2 stakeholders (linked to projects through stakeholder_projects); a 'Developer' stands for
    v1's projectDeveloper. -#}
with source as (
    select * from {{ source('cadt_v2', 'stakeholder') }}
),

renamed as (
    select
        cad_trust_stakeholder_id,
        org_uid,
        {{ null_if_placeholder('stakeholder_name') }} as stakeholder_name,
        stakeholder_name as stakeholder_name_raw,
        case when not {{ is_placeholder('stakeholder_name') }}
            then {{ company_key('stakeholder_name') }} end as stakeholder_key,
        {{ clean_text('stakeholder_type') }} as stakeholder_type,
        stakeholder_link,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
