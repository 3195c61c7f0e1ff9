-- Both data models (docs/counting-rules.md, Both data models): a superseded v1 unit record has
-- every quantity 0, and per organization fct_units' issued total is its v2 records' unit_count
-- plus its non-superseded v1 records' (an organization publishing both is counted once).
with per_org as (
    select org_uid, coalesce(sum(unit_count) filter (where is_superseded is not true), 0) as expected
    from ({{ counted_unit_records() }}) as u
    group by org_uid
),

shown as (
    select org_uid, coalesce(sum(quantity_issued), 0) as actual
    from {{ ref('fct_units') }}
    group by org_uid
)

select 'superseded record counted' as problem, warehouse_unit_id as org_uid, null as expected,
    quantity_issued + quantity_retired + quantity_cancelled + quantity_outstanding as actual
from {{ ref('fct_units') }}
where is_superseded
  and quantity_issued + quantity_retired + quantity_cancelled + quantity_outstanding
      + quantity_expired + quantity_exported <> 0
union all
select 'organization total', coalesce(p.org_uid, s.org_uid), p.expected, s.actual
from per_org as p
full outer join shown as s on s.org_uid = p.org_uid
where coalesce(p.expected, 0) <> coalesce(s.actual, 0)
