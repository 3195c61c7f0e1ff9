{#- v2 unit records: the same cleaning as stg_cadt_v1__units, v2 names. The serial block's first
    and last serials are unitStartBlock / unitEndBlock, else the halves of unitSerialId. The
    status is canonicalised to the v1 vocabulary (macros/unit_status.sql; Inactive and Rejected
    are 'Other'); unitStatusDate is the date of the current status (the retirement date of a
    retired record). unitCount is DECIMAL in v2: it is rounded to a whole number here. -#}
with source as (
    select * from {{ source('cadt_v2', 'unit') }}
),

blocks as (
    select
        *,
        {{ clean_text('unit_start_block') }} as block_start,
        {{ clean_text('unit_end_block') }} as block_end,
        {{ clean_text('unit_serial_id') }} as block
    from source
),

splits as (
    select
        *,
        case when block_start is null or block_end is null
            then {{ serial_block_split_at('block') }} end as block_split_at
    from blocks
),

serials as (
    select
        * exclude (block_start, block_end, block, block_split_at),
        coalesce(block_start, substr(block, 1, block_split_at - 1)) as serial_first,
        coalesce(block_end, substr(block, block_split_at + 1)) as serial_last
    from splits
),

renamed as (
    select
        -- ids
        cad_trust_unit_id,
        cad_trust_issuance_id,
        org_uid,
        -- ownership
        {{ null_if_placeholder('unit_current_owner') }} as unit_owner,
        unit_current_owner as unit_owner_raw,
        -- serial block
        unit_serial_id as serial_number_block,
        unit_start_block as unit_block_start,
        unit_end_block as unit_block_end,
        serial_first,
        serial_last,
        {{ serial_prefix('serial_first') }} as serial_prefix,
        {{ serial_number('serial_first') }} as serial_start_number,
        {{ serial_number('serial_last') }} as serial_end_number,
        {{ serial_prefix('serial_last') }} as serial_end_prefix,
        -- numbers
        coalesce(cast(round(unit_count) as bigint), 0) as unit_count,
        unit_count as unit_count_decimal,
        unit_count is null as unit_count_missing,
        unit_vintage_year as vintage_year,
        -- classification
        {{ clean_text('unit_type') }} as unit_type,
        unit_status as unit_status_raw,
        {{ canonical_unit_status('unit_status') }} as unit_status,
        cast(unit_status_date as timestamptz) as unit_status_date,
        {{ null_if_placeholder('unit_status_reason') }} as unit_status_reason,
        unit_status_reason as unit_status_reason_raw,
        {{ clean_text('unit_metric') }} as unit_metric,
        -- retirement
        {{ null_if_placeholder('unit_retirement_beneficiary') }} as unit_retirement_beneficiary,
        {{ clean_text('unit_retirement_beneficiary_id') }} as unit_retirement_beneficiary_id,
        {{ clean_text('unit_retirement_detail') }} as unit_retirement_detail,
        -- Article 6
        {{ clean_text('unit_itmos_reference_id') }} as unit_itmos_reference_id,
        -- marketplace (not in the v2 dictionary's unit table)
        cast(null as varchar) as marketplace,
        cast(null as varchar) as marketplace_identifier,
        unit_link,
        {{ placeholder_columns({
            'unit_current_owner': 'unit_current_owner',
            'unit_status_reason': 'unit_status_reason',
        }) }} as placeholder_columns,
        -- timestamps
        created_at,
        updated_at,
        -- mirror
        _source as record_source,
        _synced_at as synced_at
    from serials
)

select * from renamed
