{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid'}},
) }}
{#- Every state transition of every unit record, from the audit history, with splits:
      created        first appearance (not explained by a split)        from NULL
      split_off      first appearance in a generation where a sibling   from = the parent's status
                     (same org, issuance, vintage, unit type) shrank       before the split
      split          the record shrank (record 0 of a split keeps the id)
      status_change  the canonical status changed
      count_change   the record grew (a correction; no status change)
      deleted        the record was deleted                             to NULL
      restored       the record reappeared after a delete               from NULL
      observed       current state disagrees with (or has no) history   generation NULL
    Counts on split/created rows make Σ unit_count reconstructible per generation.
    Incremental (macros/incremental.sql): a build recomputes the whole history of the unit
    records the new syncs can have changed, reading the versions of those records and of the
    records of the same issuance, vintage and unit type in the generations where they first
    appear (their possible split parents). -#}
{%- set plan = changes_plan() %}
with all_versions as (
    select * from {{ ref('int_unit_versions') }}
),

{% if plan.mode == 'full' -%}
needed_versions as (
    select * from all_versions
),
{%- else -%}
scope_versions as (
    select * from all_versions
    where {{ changes_scope(plan) }}
),

-- each unit's first version: a 'created' there may be a split_off, whose parent is a record
-- of the same issuance, vintage and unit type that shrank in that generation (created_matched)
first_versions as (
    select org_uid, generation, issuance_id, vintage_year, unit_type
    from scope_versions
    qualify row_number() over (
        partition by org_uid, warehouse_unit_id order by generation, audit_id
    ) = 1
),

needed_units as (
    select distinct org_uid, warehouse_unit_id from scope_versions
    union
    select v.org_uid, v.warehouse_unit_id
    from all_versions as v
    semi join first_versions as f
        on f.org_uid = v.org_uid
        and f.generation = v.generation
        and f.issuance_id is not distinct from v.issuance_id
        and f.vintage_year is not distinct from v.vintage_year
        and f.unit_type is not distinct from v.unit_type
),

needed_versions as (
    select v.* from all_versions as v
    semi join needed_units as n
        on n.org_uid = v.org_uid and n.warehouse_unit_id = v.warehouse_unit_id
),
{%- endif %}

versions as (
    select
        *,
        lag(is_deleted) over w as prev_is_deleted,
        lag(unit_status) over w as prev_unit_status,
        lag(unit_status_raw) over w as prev_unit_status_raw,
        lag(unit_count) over w as prev_unit_count,
        row_number() over w as version_number
    from needed_versions
    window w as (partition by org_uid, warehouse_unit_id order by generation, audit_id)
),

classified as (
    select
        *,
        case
            when version_number = 1 and not is_deleted then 'created'
            when version_number = 1 then null  -- history starts with a delete: nothing to say
            when prev_is_deleted and not is_deleted then 'restored'
            when prev_is_deleted then null
            when is_deleted then 'deleted'
            when unit_count < prev_unit_count then 'split'
            when unit_status is distinct from prev_unit_status then 'status_change'
            when unit_count <> prev_unit_count then 'count_change'
            else null
        end as event_type
    from versions
),

split_parents as (
    select
        org_uid,
        generation,
        issuance_id,
        vintage_year,
        unit_type,
        warehouse_unit_id as parent_unit_id,
        prev_unit_status as parent_status_before,
        prev_unit_status_raw as parent_status_raw_before
    from classified
    where event_type = 'split'
),

created_matched as (
    select
        c.org_uid,
        c.warehouse_unit_id,
        c.generation,
        min(p.parent_unit_id) as parent_unit_id,
        arg_min(p.parent_status_before, p.parent_unit_id) as parent_status_before,
        arg_min(p.parent_status_raw_before, p.parent_unit_id) as parent_status_raw_before
    from classified as c
    inner join split_parents as p
        on p.org_uid = c.org_uid
        and p.generation = c.generation
        and p.issuance_id is not distinct from c.issuance_id
        and p.vintage_year is not distinct from c.vintage_year
        and p.unit_type is not distinct from c.unit_type
    where c.event_type = 'created'
    group by c.org_uid, c.warehouse_unit_id, c.generation
),

audit_events as (
    select
        c.org_uid,
        c.warehouse_unit_id,
        c.generation,
        c.onchain_at as event_at,
        case when m.parent_unit_id is not null then 'split_off' else c.event_type end as event_type,
        case
            when m.parent_unit_id is not null then m.parent_status_before
            when c.event_type in ('created', 'restored') then null
            else c.prev_unit_status
        end as from_status,
        case when c.event_type = 'deleted' then null else c.unit_status end as to_status,
        case
            when m.parent_unit_id is not null then m.parent_status_raw_before
            when c.event_type in ('created', 'restored') then null
            else c.prev_unit_status_raw
        end as from_status_raw,
        case when c.event_type = 'deleted' then null else c.unit_status_raw end as to_status_raw,
        case when c.event_type in ('created', 'restored') then 0 else c.prev_unit_count end
            as unit_count_before,
        case when c.event_type = 'deleted' then 0 else c.unit_count end as unit_count_after,
        m.parent_unit_id as split_parent_unit_id,
        c.issuance_id,
        'audit' as event_source
    from classified as c
    left join created_matched as m
        on m.org_uid = c.org_uid
        and m.warehouse_unit_id = c.warehouse_unit_id
        and m.generation = c.generation
    where c.event_type is not null
),

last_versions as (
    select *
    from versions
    qualify row_number() over (
        partition by org_uid, warehouse_unit_id order by generation desc, audit_id desc
    ) = 1
),

current_units as (
    select org_uid, warehouse_unit_id, issuance_id, unit_status, unit_status_raw, unit_count
    from {{ ref('stg_cadt_v1__units') }}
    where {{ changes_scope(plan) }}
),

observed_events as (
    select
        u.org_uid,
        u.warehouse_unit_id,
        cast(null as bigint) as generation,
        cast(null as timestamptz) as event_at,
        'observed' as event_type,
        case when v.is_deleted then null else v.unit_status end as from_status,
        u.unit_status as to_status,
        case when v.is_deleted then null else v.unit_status_raw end as from_status_raw,
        u.unit_status_raw as to_status_raw,
        case when v.is_deleted then 0 else coalesce(v.unit_count, 0) end as unit_count_before,
        u.unit_count as unit_count_after,
        cast(null as varchar) as split_parent_unit_id,
        u.issuance_id,
        'current_state' as event_source
    from current_units as u
    left join last_versions as v
        on v.org_uid = u.org_uid and v.warehouse_unit_id = u.warehouse_unit_id
    where v.warehouse_unit_id is null
       or v.is_deleted
       or v.unit_status is distinct from u.unit_status
       or v.unit_count is distinct from u.unit_count
),

unioned as (
    select * from audit_events
    where {{ changes_scope(plan) }}
    union all
    select * from observed_events
)

select
    md5(org_uid || '|' || warehouse_unit_id || '|' || coalesce(cast(generation as varchar), 'current')
        || '|' || event_type) as event_id,
    *
from unioned
