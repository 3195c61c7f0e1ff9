-- Reconciliation: every current unit record (both data models) reaches the unit-grain marts
-- exactly once; search_index and fct_credit_balances leave superseded v1 records out.
with staging as materialized (  -- counted once
    select count(*) as all_records, count(*) filter (where not u.is_superseded) as counted_records
    from ({{ counted_unit_records() }}) as u
),

counts as (
    select 'staging (v1 + v2)' as model, all_records as n, false as counted_only from staging
    union all select 'staging, counted', counted_records, true from staging
    union all select 'int_units_enriched', count(*), false from {{ ref('int_units_enriched') }}
    union all select 'mart_article6_units', count(*), false from {{ ref('mart_article6_units') }}
    union all select 'fct_units', count(*), false from {{ ref('fct_units') }}
    union all select 'search_index (units)', count(*), true from {{ ref('search_index') }} where doc_type = 'unit'
    union all select 'fct_credit_balances', coalesce(sum(unit_record_count), 0), true from {{ ref('fct_credit_balances') }}
),

expected as (
    select
        any_value(n) filter (where model = 'staging (v1 + v2)') as all_records,
        any_value(n) filter (where model = 'staging, counted') as counted_records
    from counts
)

select model, n, case when counted_only then counted_records else all_records end as expected
from counts cross join expected
where n is distinct from case when counted_only then counted_records else all_records end
