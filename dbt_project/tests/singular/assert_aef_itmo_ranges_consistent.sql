-- Article 6 AEF reconciliation: an action's or holding's numeric ITMO id range holds exactly its
-- quantity (last - first + 1), and the ranges of the actions and holdings of one authorization
-- never overlap (each ITMO is first transferred, used, cancelled or held once). One row per
-- block or overlapping pair that breaks this.
with blocks as (
    select * from {{ ref('int_aef_itmo_blocks') }}
    where itmo_first_number is not null and itmo_last_number is not null
      and (aef_table = 'T4' or draws_from_authorization)
)

select 'count' as problem, aef_record_id as record_a, null as record_b
from blocks
where itmo_last_number - itmo_first_number + 1 <> quantity_tco2
union all
select 'overlap', a.aef_record_id, b.aef_record_id
from blocks as a
inner join blocks as b
    on a.cad_trust_aef_t2_authorizations_id = b.cad_trust_aef_t2_authorizations_id
    and a.aef_record_id < b.aef_record_id
    and a.itmo_first_number <= b.itmo_last_number
    and b.itmo_first_number <= a.itmo_last_number
