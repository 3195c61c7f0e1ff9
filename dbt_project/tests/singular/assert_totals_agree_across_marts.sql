-- One definition per number: issued, retired, cancelled and outstanding are defined once, per
-- unit record, in int_units_enriched; every mart that shows one of them must add up to the same
-- total, to the unit. Returns one row per (mart, number) that disagrees.
with defined as (
    select
        coalesce(sum(quantity_issued), 0) as issued,
        coalesce(sum(quantity_retired), 0) as retired,
        coalesce(sum(quantity_cancelled), 0) as cancelled,
        coalesce(sum(quantity_outstanding), 0) as outstanding
    from {{ ref('int_units_enriched') }}
),

shown as (
    -- coalesce: a mart that shows a number shows it even when empty; NULL: it does not show it
    select 'dim_projects' as mart,
        coalesce(sum(quantity_issued), 0) as issued,
        coalesce(sum(quantity_retired), 0) as retired,
        coalesce(sum(quantity_cancelled), 0) as cancelled,
        coalesce(sum(quantity_outstanding), 0) as outstanding
    from {{ ref('dim_projects') }}
    union all
    select 'fct_issuances',
        coalesce(sum(quantity_issued), 0), coalesce(sum(quantity_retired), 0),
        coalesce(sum(quantity_cancelled), 0), coalesce(sum(quantity_outstanding), 0)
    from {{ ref('fct_issuances') }}
    union all
    select 'fct_units',
        coalesce(sum(quantity_issued), 0), coalesce(sum(quantity_retired), 0),
        coalesce(sum(quantity_cancelled), 0), coalesce(sum(quantity_outstanding), 0)
    from {{ ref('fct_units') }}
    union all
    select 'mart_developer_portfolio',
        coalesce(sum(quantity_issued), 0), coalesce(sum(quantity_retired), 0),
        coalesce(sum(quantity_cancelled), 0), coalesce(sum(quantity_outstanding), 0)
    from {{ ref('mart_developer_portfolio') }}
    union all
    select 'fct_credit_balances',
        coalesce(sum(quantity), 0),
        coalesce(sum(quantity) filter (where status_group = 'retired'), 0),
        coalesce(sum(quantity) filter (where status_group = 'cancelled'), 0),
        coalesce(sum(quantity) filter (where status_group = 'outstanding'), 0)
    from {{ ref('fct_credit_balances') }}
    union all
    select 'mart_article6_by_country',
        coalesce(sum(quantity_total), 0), coalesce(sum(quantity_retired), 0), null, null
    from {{ ref('mart_article6_by_country') }}
    union all
    select 'fct_retirements', null, coalesce(sum(quantity), 0), null, null
    from {{ ref('fct_retirements') }}
),

compared as (
    select shown.mart, v.number, v.defined_total, v.shown_total
    from shown
    cross join defined
    cross join lateral (
        values
            ('issued', defined.issued, shown.issued),
            ('retired', defined.retired, shown.retired),
            ('cancelled', defined.cancelled, shown.cancelled),
            ('outstanding', defined.outstanding, shown.outstanding)
    ) as v(number, defined_total, shown_total)
)

-- NULL: the mart does not show that number
select mart, number, defined_total, shown_total
from compared
where shown_total is not null and shown_total <> defined_total
