-- Reconciliation: every credit in a unit record with an (existing) issuance is counted in
-- fct_issuances exactly once. Returns a row (fails) when the totals differ.
with units as (
    select coalesce(sum(u.unit_count), 0) as units_total
    from {{ ref('stg_cadt_v1__units') }} as u
    where u.issuance_id in (select issuance_id from {{ ref('stg_cadt_v1__issuances') }})
),

issued as (
    select coalesce(sum(quantity_issued), 0) as issued_total from {{ ref('fct_issuances') }}
)

select units_total, issued_total
from units cross join issued
where units_total <> issued_total
