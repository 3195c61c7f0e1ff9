{#- One row per organization x data-quality rule (seed data_quality_rules; the rules are in
    docs/counting-rules.md, Data quality): how many of the organization's records were checked,
    how many break the rule, and how many credits they hold. Rules nobody breaks show 0. -#}
with rules as (
    select * from {{ ref('data_quality_rules') }}
),

issues as (
    select * from {{ ref('int_data_quality_issues') }}
),

organizations as (
    select * from {{ ref('int_organizations') }}
),

checked as (
    select org_uid, 'project' as entity, count(*) as records_checked,
        cast(null as bigint) as quantity_checked
    from {{ ref('int_projects_enriched') }}
    group by org_uid
    union all
    select org_uid, 'unit', count(*), cast(sum(unit_count) as bigint)
    from {{ ref('int_units_enriched') }}
    group by org_uid
),

-- a record breaking a rule in several columns (placeholders) counts once
flagged_records as (
    select org_uid, entity, rule, record_id, any_value(quantity) as quantity
    from issues
    group by all
),

flagged as (
    select
        org_uid, entity, rule,
        count(*) as records_flagged,
        cast(sum(quantity) as bigint) as quantity_flagged,
        min(record_id) as example_record_id
    from flagged_records
    group by all
),

detail_counts as (
    select org_uid, entity, rule, detail, count(*) as n
    from issues
    where detail is not null
    group by all
),

details as (
    select org_uid, entity, rule, string_agg(detail || ': ' || n, '; ' order by n desc, detail) as details
    from detail_counts
    group by all
)

select
    md5(checked.org_uid || '|' || rules.entity || '|' || rules.rule) as data_quality_id,
    checked.org_uid,
    organizations.organization_name,
    rules.entity,
    rules.rule,
    rules.description,
    checked.records_checked,
    coalesce(flagged.records_flagged, 0) as records_flagged,
    round(coalesce(flagged.records_flagged, 0) / checked.records_checked, 4) as share_flagged,
    checked.quantity_checked,
    case when rules.entity = 'unit' then coalesce(flagged.quantity_flagged, 0) end as quantity_flagged,
    details.details,
    flagged.example_record_id
from checked
inner join rules on rules.entity = checked.entity
left join organizations on organizations.org_uid = checked.org_uid
left join flagged
    on flagged.org_uid = checked.org_uid and flagged.entity = rules.entity and flagged.rule = rules.rule
left join details
    on details.org_uid = checked.org_uid and details.entity = rules.entity and details.rule = rules.rule
