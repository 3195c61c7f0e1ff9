-- Reconciliation: every current unit record reaches the unit-grain marts exactly once.
with counts as (
    select 'stg_cadt_v1__units' as model, count(*) as n from {{ ref('stg_cadt_v1__units') }}
    union all select 'int_units_enriched', count(*) from {{ ref('int_units_enriched') }}
    union all select 'mart_article6_units', count(*) from {{ ref('mart_article6_units') }}
    union all select 'fct_units', count(*) from {{ ref('fct_units') }}
    union all select 'search_index (units)', count(*) from {{ ref('search_index') }} where doc_type = 'unit'
    union all select 'fct_credit_balances', coalesce(sum(unit_record_count), 0) from {{ ref('fct_credit_balances') }}
)

select model, n, (select n from counts where model = 'stg_cadt_v1__units') as expected
from counts
where n is distinct from (select n from counts where model = 'stg_cadt_v1__units')
