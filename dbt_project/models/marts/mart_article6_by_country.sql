{#- Article 6 quantities per host country x vintage. Unit records with a contradictory
    corresponding-adjustment pair are left out of every CA and relevance total and reported in
    quantity_ca_contradictory (they stay in quantity_total), so
    committed + not required + unknown + contradictory = total. -#}
with units as (
    select * from {{ ref('mart_article6_units') }}
),

consistent as (
    select *, not has_contradictory_ca as ca_consistent from units
)

select
    md5(coalesce(host_country_iso3, '-') || '|' || coalesce(cast(vintage_year as varchar), '-'))
        as country_vintage_id,
    host_country_iso3,
    vintage_year,
    count(*) as unit_record_count,
    cast(sum(quantity) as bigint) as quantity_total,
    coalesce(cast(sum(quantity) filter (where ca_consistent and ca_declaration = 'Committed') as bigint), 0)
        as quantity_ca_committed,
    coalesce(cast(sum(quantity) filter (where ca_consistent and ca_declaration = 'Not Required') as bigint), 0)
        as quantity_ca_not_required,
    coalesce(cast(sum(quantity) filter (
        where ca_consistent and ca_declaration in ('Unknown', 'Missing', 'Other')) as bigint), 0)
        as quantity_ca_unknown,
    coalesce(cast(sum(quantity) filter (where has_contradictory_ca) as bigint), 0) as quantity_ca_contradictory,
    coalesce(cast(sum(quantity) filter (where ca_consistent and ca_status = 'Not Started') as bigint), 0)
        as quantity_ca_not_started,
    coalesce(cast(sum(quantity) filter (where ca_consistent and ca_status = 'Pending') as bigint), 0)
        as quantity_ca_pending,
    coalesce(cast(sum(quantity) filter (where ca_consistent and ca_status = 'Completed') as bigint), 0)
        as quantity_ca_completed,
    coalesce(cast(sum(quantity) filter (where has_authorization) as bigint), 0) as quantity_authorized,
    coalesce(cast(sum(quantity) filter (where has_approval) as bigint), 0) as quantity_approved,
    coalesce(cast(sum(quantity) filter (where project_has_authorization_label) as bigint), 0)
        as quantity_in_authorized_projects,
    coalesce(cast(sum(quantity) filter (where is_exported) as bigint), 0) as quantity_exported,
    coalesce(cast(sum(quantity) filter (where is_pending_export) as bigint), 0) as quantity_pending_export,
    cast(sum(quantity_retired) as bigint) as quantity_retired,
    coalesce(cast(sum(quantity_retired) filter (where ca_consistent and ca_status = 'Completed') as bigint), 0)
        as quantity_retired_with_ca_completed,
    coalesce(cast(sum(quantity) filter (where {{ text_key('covered_by_ndc') }} = 'inside ndc') as bigint), 0)
        as quantity_inside_ndc,
    coalesce(cast(sum(quantity) filter (where {{ text_key('covered_by_ndc') }} = 'outside ndc') as bigint), 0)
        as quantity_outside_ndc,
    coalesce(cast(sum(quantity) filter (where is_article6_relevant) as bigint), 0) as quantity_article6_relevant
from consistent
group by host_country_iso3, vintage_year
