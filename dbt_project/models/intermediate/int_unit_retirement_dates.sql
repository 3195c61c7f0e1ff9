{#- When each currently retired unit record became retired (see docs/counting-rules.md):
      audit_history     the on-chain time of the last generation in which this record entered
                        Retired (from another status, or created/restored as Retired)
      audit_split_parent  the record was split off an already retired record: the parent's
                        last entry into Retired at or before the split
      record_created_at no usable history: the record's createdAt (a lower bound)
      unknown           nothing to go by
    Incremental (macros/incremental.sql): a build recomputes the unit records the new syncs can
    have changed (their split parents' history before the split cannot change without theirs). -#}
{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid'}},
) }}
{%- set plan = changes_plan() %}
with retired_units as (
    select warehouse_unit_id, org_uid, created_at
    from {{ ref('stg_cadt_v1__units') }}
    where unit_status = 'Retired'
      and {{ changes_scope(plan) }}
),

all_entries as (
    select org_uid, warehouse_unit_id, generation, event_at
    from {{ ref('int_unit_status_events') }}
    where event_source = 'audit'
      and to_status = 'Retired'
      and from_status is distinct from 'Retired'
),

entries as (
    select * from all_entries
    semi join retired_units as r
        on r.org_uid = all_entries.org_uid and r.warehouse_unit_id = all_entries.warehouse_unit_id
),

own_entry as (
    select
        org_uid,
        warehouse_unit_id,
        max(generation) as retired_generation,
        arg_max(event_at, generation) as retired_at
    from entries
    group by org_uid, warehouse_unit_id
),

split_from_retired as (
    select e.org_uid, e.warehouse_unit_id, e.generation, e.split_parent_unit_id
    from {{ ref('int_unit_status_events') }} as e
    semi join retired_units as r
        on r.org_uid = e.org_uid and r.warehouse_unit_id = e.warehouse_unit_id
    where e.event_type = 'split_off' and e.from_status = 'Retired'
),

parent_entry as (
    select
        s.org_uid,
        s.warehouse_unit_id,
        max(e.generation) as retired_generation,
        arg_max(e.event_at, e.generation) as retired_at
    from split_from_retired as s
    inner join all_entries as e
        on e.org_uid = s.org_uid
        and e.warehouse_unit_id = s.split_parent_unit_id
        and e.generation <= s.generation
    group by s.org_uid, s.warehouse_unit_id
),

-- the audit must agree that the record is retired now, else its history is incomplete
last_audit_status as (
    select v.org_uid, v.warehouse_unit_id, v.unit_status, v.is_deleted
    from {{ ref('int_unit_versions') }} as v
    semi join retired_units as r
        on r.org_uid = v.org_uid and r.warehouse_unit_id = v.warehouse_unit_id
    qualify row_number() over (
        partition by org_uid, warehouse_unit_id order by generation desc, audit_id desc
    ) = 1
)

select
    r.warehouse_unit_id,
    r.org_uid,
    case
        when las.unit_status = 'Retired' and not las.is_deleted and own_entry.retired_at is not null
            then own_entry.retired_at
        when las.unit_status = 'Retired' and not las.is_deleted and parent_entry.retired_at is not null
            then parent_entry.retired_at
        else r.created_at
    end as retired_at,
    case
        when las.unit_status = 'Retired' and not las.is_deleted and own_entry.retired_at is not null
            then own_entry.retired_generation
        when las.unit_status = 'Retired' and not las.is_deleted and parent_entry.retired_at is not null
            then parent_entry.retired_generation
    end as retired_generation,
    case
        when las.unit_status = 'Retired' and not las.is_deleted and own_entry.retired_at is not null
            then 'audit_history'
        when las.unit_status = 'Retired' and not las.is_deleted and parent_entry.retired_at is not null
            then 'audit_split_parent'
        when r.created_at is not null then 'record_created_at'
        else 'unknown'
    end as retired_at_source
from retired_units as r
left join last_audit_status as las
    on las.org_uid = r.org_uid and las.warehouse_unit_id = r.warehouse_unit_id
left join own_entry
    on own_entry.org_uid = r.org_uid and own_entry.warehouse_unit_id = r.warehouse_unit_id
left join parent_entry
    on parent_entry.org_uid = r.org_uid and parent_entry.warehouse_unit_id = r.warehouse_unit_id
