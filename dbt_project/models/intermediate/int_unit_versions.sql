{{ config(
    meta={'changes': {'scope': 'generations', 'org': 'org_uid', 'generation': 'generation'}},
) }}
{#- One row per unit record per generation in which the audit feed wrote it: the record's state
    after that generation. An update is a DELETE + INSERT of the same key in one generation, so
    an INSERT wins over a DELETE within a generation (and the later audit row wins among equals).
    `change` is parsed here, once, and only for unit rows.
    Incremental (macros/incremental.sql): a build re-reads only the (organization, generation)
    groups of audit rows the new syncs wrote, and all of an organization whose history was
    rewritten. -#}
{%- set plan = changes_plan() %}
with unit_rows as (
    select
        audit_id,
        org_uid,
        generation,
        onchain_at,
        change_type,
        json_extract_string(change, [
            '$.warehouseUnitId', '$.unitStatus', '$.unitCount', '$.issuanceId', '$.issuance.id',
            '$.vintageYear', '$.unitType', '$.unitBlockStart', '$.unitBlockEnd'
        ]) as f
    from {{ ref('stg_cadt_v1__audit') }}
    where table_name = 'units'
      and change_type in ('INSERT', 'DELETE')
      and change is not null
      and {{ changes_scope(plan) }}
),

parsed as (
    select
        audit_id,
        org_uid,
        generation,
        onchain_at,
        change_type,
        f[1] as warehouse_unit_id,
        f[2] as unit_status_raw,
        try_cast(f[3] as bigint) as unit_count,
        coalesce(f[4], f[5]) as issuance_id,
        try_cast(f[6] as bigint) as vintage_year,
        f[7] as unit_type,
        f[8] as unit_block_start,
        f[9] as unit_block_end
    from unit_rows
),

collapsed as (
    select *
    from parsed
    where warehouse_unit_id is not null
    qualify row_number() over (
        partition by org_uid, warehouse_unit_id, generation
        order by (change_type = 'INSERT') desc, audit_id desc
    ) = 1
)

select
    org_uid,
    warehouse_unit_id,
    generation,
    onchain_at,
    audit_id,
    change_type = 'DELETE' as is_deleted,
    unit_status_raw,
    {{ canonical_unit_status('unit_status_raw') }} as unit_status,
    coalesce(unit_count, 0) as unit_count,
    issuance_id,
    vintage_year,
    {{ clean_text('unit_type') }} as unit_type,
    unit_block_start,
    unit_block_end
from collapsed
