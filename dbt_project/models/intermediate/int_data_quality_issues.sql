{#- One row per record and data-quality rule it breaks (the rules: seed data_quality_rules;
    the definitions: docs/counting-rules.md, Data quality). `detail` is a category to count by
    (the column for placeholder values, the declaration / status pair, ...), never a record's own
    value. `quantity` is the record's unit_count (units only). -#}
with projects as (
    select * from {{ ref('int_projects_enriched') }}
),

units as (
    select * from {{ ref('int_units_enriched') }}
),

project_issues as (
    select org_uid, 'project' as entity, warehouse_project_id as record_id,
        'registry_unknown' as rule, cast(null as varchar) as detail, cast(null as bigint) as quantity
    from projects where registry_source = 'unknown'
    union all
    select org_uid, 'project', warehouse_project_id, 'registry_inferred', registry_source, null
    from projects where registry_source in ('registry_of_origin', 'organization')
    union all
    select org_uid, 'project', warehouse_project_id, 'placeholder_value',
        unnest(string_split(placeholder_columns, ', ')), null
    from projects where has_placeholder_value
),

unit_issues as (
    select org_uid, 'unit' as entity, warehouse_unit_id as record_id,
        'registry_unknown' as rule, cast(null as varchar) as detail, unit_count as quantity
    from units where registry_source = 'unknown'
    union all
    select org_uid, 'unit', warehouse_unit_id, 'placeholder_value',
        unnest(string_split(placeholder_columns, ', ')), unit_count
    from units where has_placeholder_value
    union all
    select org_uid, 'unit', warehouse_unit_id, 'retired_before_vintage',
        'vintage ' || vintage_year || ', retired ' || year(retired_at at time zone 'UTC'),
        unit_count
    from units where is_retired_before_vintage
    union all
    select org_uid, 'unit', warehouse_unit_id, 'contradictory_corresponding_adjustment',
        ca_declaration || ' / ' || ca_status, unit_count
    from units where has_contradictory_ca
    union all
    select org_uid, 'unit', warehouse_unit_id, 'serial_count_mismatch',
        case when serial_unit_count > unit_count then 'block larger than unitCount'
            else 'block smaller than unitCount' end,
        unit_count
    from units where is_serial_count_mismatch
    union all
    select org_uid, 'unit', warehouse_unit_id, 'serial_block_unparsed', null, unit_count
    from units where not serial_block_parsed
    union all
    select org_uid, 'unit', warehouse_unit_id, 'no_current_project', project_record_status, unit_count
    from units where project_record_status <> 'current'
)

select * from project_issues
union all
select * from unit_issues
