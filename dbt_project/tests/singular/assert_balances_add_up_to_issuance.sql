-- Reconciliation: balances hold every credit of every unit record (with or without issuance),
-- and per project key (deleted and unattributed rows included) they add up to
-- dim_projects.quantity_issued.
with all_units as (
    select 'all units' as check_name, coalesce(sum(unit_count), 0) as expected
    from ({{ counted_unit_records() }}) as u
    where not u.is_superseded
),

all_balances as (
    select coalesce(sum(quantity), 0) as actual from {{ ref('fct_credit_balances') }}
),

per_project as (
    select
        'project ' || coalesce(d.warehouse_project_id, b.project_key) as check_name,
        coalesce(d.quantity_issued, 0) as expected,
        coalesce(b.quantity, 0) as actual
    from {{ ref('dim_projects') }} as d
    full outer join (
        select project_key, sum(quantity) as quantity
        from {{ ref('fct_credit_balances') }}
        group by project_key
    ) as b on b.project_key = d.warehouse_project_id
)

select check_name, expected, actual from all_units cross join all_balances where expected <> actual
union all
select check_name, expected, actual from per_project where expected <> actual
