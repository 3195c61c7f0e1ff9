{{ config(
    meta={'changes': {'scope': 'records', 'table': 'units', 'key': 'warehouse_unit_id',
                      'org': 'org_uid',
                      'also': 'warehouse_unit_id not in (select warehouse_unit_id from '
                              'cadt_v1.units where warehouse_unit_id is not null)'}},
) }}
{#- Placeholders in the descriptive columns become NULL (raw value in `<column>_raw`). The serial
    block's first and last serial come from unitBlockStart / unitBlockEnd, else from splitting
    serialNumberBlock; each is split into a text prefix and a trailing number.
    A table, incremental (macros/incremental.sql, scope `records`): the string work is done
    once per unit record and sync, not by every model and test that reads it; a build
    recomputes the records the new syncs wrote or deleted. -#}
{%- set plan = changes_plan() %}
{%- set placeholder_checked = ['unit_owner', 'country_jurisdiction_of_owner',
    'in_country_jurisdiction_of_owner', 'unit_status_reason', 'marketplace',
    'marketplace_identifier'] %}
{%- set keys = {} %}
{%- for column in placeholder_checked %}{% do keys.update({column: column ~ '__key'}) %}{% endfor %}
with source as (
    select * from {{ source('cadt_v1', 'units') }}
    where {{ changes_scope(plan) }}
),

blocks as (
    select
        *,
        {{ clean_text('unit_block_start') }} as block_start,
        {{ clean_text('unit_block_end') }} as block_end,
        {{ clean_text('serial_number_block') }} as block
    from source
),

-- splitting serialNumberBlock is costly: only for the (rare) records without start or end
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

-- each text_key once (the placeholder checks below ask several questions of one value)
keyed as (
    select
        *,
        {%- for column in placeholder_checked %}
        {{ text_key(column) }} as {{ column }}__key{{ ',' if not loop.last }}
        {%- endfor %}
    from serials
),

renamed as (
    select
        -- ids
        warehouse_unit_id,
        issuance_id,
        project_location_id,
        org_uid,
        -- ownership
        {{ null_if_placeholder('unit_owner', keys.unit_owner) }} as unit_owner,
        unit_owner as unit_owner_raw,
        {{ clean_text('country_jurisdiction_of_owner') }} as owner_country_raw,
        case when not {{ is_placeholder('country_jurisdiction_of_owner', keys.country_jurisdiction_of_owner) }}
            then country_jurisdiction_of_owner__key end as owner_country_key,
        {{ null_if_placeholder('in_country_jurisdiction_of_owner', keys.in_country_jurisdiction_of_owner) }} as owner_in_country_jurisdiction,
        -- serial block
        serial_number_block,
        unit_block_start,
        unit_block_end,
        serial_first,
        serial_last,
        {{ serial_prefix('serial_first') }} as serial_prefix,
        {{ serial_number('serial_first') }} as serial_start_number,
        {{ serial_number('serial_last') }} as serial_end_number,
        {{ serial_prefix('serial_last') }} as serial_end_prefix,
        -- numbers
        coalesce(unit_count, 0) as unit_count,
        unit_count is null as unit_count_missing,
        vintage_year,
        -- classification
        {{ clean_text('unit_type') }} as unit_type,
        unit_status as unit_status_raw,
        {{ canonical_unit_status('unit_status') }} as unit_status,
        {{ null_if_placeholder('unit_status_reason', keys.unit_status_reason) }} as unit_status_reason,
        unit_status_reason as unit_status_reason_raw,
        unit_tags,
        -- marketplace
        {{ null_if_placeholder('marketplace', keys.marketplace) }} as marketplace,
        marketplace as marketplace_raw,
        marketplace_link,
        {{ null_if_placeholder('marketplace_identifier', keys.marketplace_identifier) }} as marketplace_identifier,
        unit_registry_link,
        -- Article 6
        {{ clean_text('corresponding_adjustment_declaration') }} as corresponding_adjustment_declaration,
        {{ clean_text('corresponding_adjustment_status') }} as corresponding_adjustment_status,
        {{ placeholder_columns({
            'unit_owner': 'unit_owner',
            'country_jurisdiction_of_owner': 'country_jurisdiction_of_owner',
            'unit_status_reason': 'unit_status_reason', 'marketplace': 'marketplace',
            'marketplace_identifier': 'marketplace_identifier',
        }, keys) }} as placeholder_columns,
        -- timestamps
        time_staged,
        created_at,
        updated_at,
        -- mirror
        _source as record_source,
        _synced_at as synced_at
    from keyed
)

select * from renamed
