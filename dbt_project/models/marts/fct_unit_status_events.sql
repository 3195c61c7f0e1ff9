{#- Every state transition of every unit record (int_unit_status_events), with the project of
    its issuance and whether the record still exists.
    Incremental (macros/incremental.sql): a build recomputes the events of the unit records the
    new syncs can have changed, and of issuances that changed. -#}
{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid',
                      'issuance': 'issuance_id'}},
) }}
{%- set plan = changes_plan() %}
with events as (
    select * from {{ ref('int_unit_status_events') }}
    where {{ changes_scope(plan) }}
),

units as (
    select warehouse_unit_id, org_uid
    from {{ ref('int_units_enriched') }}
),

issuances as (
    select issuance_id, warehouse_project_id
    from {{ ref('stg_cadt_v1__issuances') }}
)

select
    events.event_id,
    events.org_uid,
    events.warehouse_unit_id,
    events.issuance_id,
    issuances.warehouse_project_id,
    units.warehouse_unit_id is not null as unit_exists,
    events.generation,
    events.event_at,
    events.event_type,
    events.from_status,
    events.to_status,
    events.from_status_raw,
    events.to_status_raw,
    events.unit_count_before,
    events.unit_count_after,
    events.split_parent_unit_id,
    events.event_source
from events
left join units
    on units.warehouse_unit_id = events.warehouse_unit_id and units.org_uid = events.org_uid
left join issuances on issuances.issuance_id = events.issuance_id
