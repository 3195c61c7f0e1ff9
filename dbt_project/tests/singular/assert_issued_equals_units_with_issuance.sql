-- Reconciliation: every credit in a unit record with an (existing) issuance is counted in that
-- issuance's fct_issuances row exactly once, and the other rows (vanished or no issuance) hold
-- the rest. Returns a row (fails) when the totals differ.
-- (Both data models; superseded v1 records count nowhere: macros/counted_units.sql.)
with units as (
    select
        coalesce(sum(u.unit_count) filter (where u.issuance_exists), 0) as with_issuance,
        coalesce(sum(u.unit_count), 0) as all_units
    from ({{ counted_unit_records() }}) as u
    where not u.is_superseded
),

issued as (
    select
        coalesce(sum(quantity_issued) filter (where issuance_exists), 0) as with_issuance,
        coalesce(sum(quantity_issued), 0) as all_units
    from {{ ref('fct_issuances') }}
)

select units.with_issuance as units_with_issuance, issued.with_issuance as issued_with_issuance,
    units.all_units, issued.all_units as issued_all
from units cross join issued
where units.with_issuance <> issued.with_issuance or units.all_units <> issued.all_units
