-- Reconciliation: balances hold every credit of every unit record (with or without issuance),
-- and per project they add up to dim_projects.quantity_issued.
with all_units as (
    select 'all units' as check_name, coalesce(sum(unit_count), 0) as expected
    from {{ ref('stg_cadt_v1__units') }}
),

all_balances as (
    select coalesce(sum(quantity), 0) as actual from {{ ref('fct_credit_balances') }}
),

per_project as (
    select
        'project ' || d.warehouse_project_id as check_name,
        d.quantity_issued as expected,
        coalesce(b.quantity, 0) as actual
    from {{ ref('dim_projects') }} as d
    left join (
        select warehouse_project_id, sum(quantity) as quantity
        from {{ ref('fct_credit_balances') }}
        where warehouse_project_id is not null
        group by warehouse_project_id
    ) as b on b.warehouse_project_id = d.warehouse_project_id
)

select check_name, expected, actual from all_units cross join all_balances where expected <> actual
union all
select check_name, expected, actual from per_project where expected <> actual
