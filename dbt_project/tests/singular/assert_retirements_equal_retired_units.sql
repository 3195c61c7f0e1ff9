-- Reconciliation: fct_retirements holds every retired unit record of both data models, with its
-- full unit_count (0 for a superseded v1 record, whose v2 twin counts).
with units as (
    select count(*) as records,
        coalesce(sum(unit_count) filter (where is_superseded is not true), 0) as quantity
    from ({{ counted_unit_records() }}) as u
    where unit_status = 'Retired'
),

retirements as (
    select count(*) as records, coalesce(sum(quantity), 0) as quantity
    from {{ ref('fct_retirements') }}
)

select units.records as unit_records, retirements.records as retirement_records,
    units.quantity as unit_quantity, retirements.quantity as retirement_quantity
from units cross join retirements
where units.records <> retirements.records or units.quantity <> retirements.quantity
