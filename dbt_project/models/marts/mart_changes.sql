{#- One row per record a sync changed (cadt_mirror.record_changes, kept CADT_CHANGES_KEEP_DAYS
    days): insert, update (the columns that changed, before and after), delete (the row as it
    was), and one 'snapshot' row per table for an organization's first snapshot.

    For units and projects, the status (and for units the unit count) before and after each
    change: an update that changed it says so; otherwise the value after a change is the one
    the record's next change saw before it, else the current row's (the log stores an insert's
    key only), and an update that left it alone has the same value before and after.

    Incremental (macros/incremental.sql): a build adds the new syncs' rows (a record's later
    changes are in the same or later syncs, so the values after stay right) and drops the rows
    the retention pruned from the log. -#}
{{ config(
    meta={'changes': {'scope': 'syncs', 'sync': 'sync_id'}},
    pre_hook="{{ mart_changes_prune() }}",
) }}
{%- set plan = changes_plan() %}
{%- set tracked = {
    'status': {'units': 'unit_status', 'projects': 'project_status'},
    'unit_count': {'units': 'unit_count'},
} %}
with changes as (
    select * from {{ source('cadt_mirror', 'record_changes') }}
    where {{ changes_scope(plan) }}
),

runs as (
    select sync_id, started_at from {{ source('cadt_mirror', 'sync_runs') }}
),

current_units as (
    select warehouse_unit_id as record_key, unit_status, unit_count
    from {{ source('cadt_v1', 'units') }}
    semi join changes on changes.table_name = 'units' and changes.record_key = warehouse_unit_id
),

current_projects as (
    select warehouse_project_id as record_key, project_status
    from {{ source('cadt_v1', 'projects') }}
    semi join changes
        on changes.table_name = 'projects' and changes.record_key = warehouse_project_id
),

-- per tracked value: what the change set it to ({'v': ...}, NULL when it did not set it) and what
-- it saw before (NULL when it did not see it)
seen as (
    select
        c.*,
        {%- for name, columns in tracked.items() %}
        case c.table_name
            {%- for table, column in columns.items() %}
            when '{{ table }}' then case
                when c.op = 'update' and json_exists(c.changed, '$.{{ column }}')
                    then {'v': json_extract_string(c.changed, '$.{{ column }}[1]')}
            end
            {%- endfor %}
        end as {{ name }}_set,
        case c.table_name
            {%- for table, column in columns.items() %}
            when '{{ table }}' then case
                when c.op = 'delete' then {'v': json_extract_string(c.changed, '$.{{ column }}')}
                when c.op = 'update' and json_exists(c.changed, '$.{{ column }}')
                    then {'v': json_extract_string(c.changed, '$.{{ column }}[0]')}
            end
            {%- endfor %}
        end as {{ name }}_seen,
        {%- endfor %}
        case c.table_name when 'units' then cu.unit_status when 'projects' then cp.project_status end
            as status_now,
        cast(cu.unit_count as varchar) as unit_count_now
    from changes as c
    left join current_units as cu on c.table_name = 'units' and cu.record_key = c.record_key
    left join current_projects as cp on c.table_name = 'projects' and cp.record_key = c.record_key
),

resolved as (
    select
        *,
        {%- for name in tracked %}
        case
            when op in ('delete', 'snapshot') or table_name not in ('{{ tracked[name] | join("', '") }}') then null
            when {{ name }}_set is not null then {{ name }}_set.v
            else coalesce(
                first_value({{ name }}_seen ignore nulls) over later,
                {'v': {{ name }}_now}
            ).v
        end as {{ name }}_after,
        {%- endfor %}
        true as _
    from seen
    window later as (
        partition by table_name, record_key
        order by recorded_at, sync_id, org_uid
        rows between 1 following and unbounded following
    )
),

final as (
    select
        *,
        {%- for name in tracked %}
        case op
            when 'delete' then {{ name }}_seen.v
            when 'update' then coalesce({{ name }}_seen, {'v': {{ name }}_after}).v
        end as {{ name }}_before,
        {%- endfor %}
        true as __
    from resolved
)

select
    md5(concat_ws('|', f.sync_id, f.org_uid, f.table_name, coalesce(f.record_key, ''), f.op))
        as change_id,
    f.sync_id,
    runs.started_at as sync_started_at,
    f.recorded_at as changed_at,
    f.catalog_version,
    f.org_uid,
    f.table_name,
    f.record_key,
    f.op,
    case when f.op = 'update' then array_to_string(list_sort(json_keys(f.changed)), ', ') end
        as changed_columns,
    f.changed,
    case when f.op = 'snapshot' then cast(json_extract(f.changed, '$.rows') as bigint) end
        as snapshot_rows,
    case when f.op in ('update', 'delete') then
        case f.table_name when 'units' then {{ canonical_unit_status('f.status_before') }}
            when 'projects' then f.status_before end
    end as from_status,
    case when f.op in ('insert', 'update') then
        case f.table_name when 'units' then {{ canonical_unit_status('f.status_after') }}
            when 'projects' then f.status_after end
    end as to_status,
    case when f.table_name = 'units' then f.status_before end as from_status_raw,
    case when f.table_name = 'units' then f.status_after end as to_status_raw,
    coalesce(f.table_name in ('units', 'projects') and f.op = 'update'
        and f.status_before is distinct from f.status_after, false) as is_status_change,
    cast(f.unit_count_before as bigint) as from_unit_count,
    cast(f.unit_count_after as bigint) as to_unit_count
from final as f
left join runs on runs.sync_id = f.sync_id
