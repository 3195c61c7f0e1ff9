{#- Organizations with a v2 store on the node (cadt_v2.organizations). An org_uid also in
    cadt_v1.organizations publishes both data models (docs/counting-rules.md, Both data models). -#}
with source as (
    select * from {{ source('cadt_v2', 'organizations') }}
),

renamed as (
    select
        -- ids
        org_uid,
        registry_id,
        -- text
        {{ clean_text('name') }} as organization_name,
        {{ company_key('name') }} as organization_key,
        -- flags and sync position
        is_home,
        subscribed,
        synced,
        sync_remaining,
        registry_hash,
        -- mirror
        _synced_at as synced_at
    from source
)

select * from renamed
