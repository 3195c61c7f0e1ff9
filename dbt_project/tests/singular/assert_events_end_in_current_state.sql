-- The status history of every current unit record ends in its current status and count:
-- the last event (audit events by generation, then any `observed` event) says what the row says.
with last_event as (
    select *
    from {{ ref('fct_unit_status_events') }}
    qualify row_number() over (
        partition by org_uid, warehouse_unit_id
        order by generation is null desc, generation desc
    ) = 1
)

select u.warehouse_unit_id, u.unit_status, e.to_status, u.unit_count, e.unit_count_after
from {{ ref('stg_cadt_v1__units') }} as u
left join last_event as e
    on e.warehouse_unit_id = u.warehouse_unit_id and e.org_uid = u.org_uid
where e.warehouse_unit_id is null
   or e.to_status is distinct from u.unit_status
   or e.unit_count_after is distinct from u.unit_count
