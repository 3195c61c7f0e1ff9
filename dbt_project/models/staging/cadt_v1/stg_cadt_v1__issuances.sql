with source as (
    select * from {{ source('cadt_v1', 'issuances') }}
),

renamed as (
    select
        id as issuance_id,
        warehouse_project_id,
        org_uid,
        start_date as issuance_start_date,
        end_date as issuance_end_date,
        {{ null_if_placeholder('verification_approach') }} as verification_approach,
        verification_report_date,
        -- CADT stores a missing verification body as ''
        {{ null_if_placeholder('verification_body') }} as verification_body,
        verification_body as verification_body_raw,
        created_at,
        updated_at,
        _source as record_source,
        _synced_at as synced_at
    from source
)

select * from renamed
