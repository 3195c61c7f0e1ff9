with units as (
    select * from {{ ref('mart_article6_units') }}
)

select
    md5(coalesce(host_country_iso3, '-') || '|' || coalesce(cast(vintage_year as varchar), '-'))
        as country_vintage_id,
    host_country_iso3,
    vintage_year,
    count(*) as unit_record_count,
    sum(quantity) as quantity_total,
    coalesce(sum(quantity) filter (where ca_declaration = 'Committed'), 0) as quantity_ca_committed,
    coalesce(sum(quantity) filter (where ca_declaration = 'Not Required'), 0) as quantity_ca_not_required,
    coalesce(sum(quantity) filter (where ca_declaration in ('Unknown', 'Missing', 'Other')), 0)
        as quantity_ca_unknown,
    coalesce(sum(quantity) filter (where ca_status = 'Not Started'), 0) as quantity_ca_not_started,
    coalesce(sum(quantity) filter (where ca_status = 'Pending'), 0) as quantity_ca_pending,
    coalesce(sum(quantity) filter (where ca_status = 'Completed'), 0) as quantity_ca_completed,
    coalesce(sum(quantity) filter (where has_authorization), 0) as quantity_authorized,
    coalesce(sum(quantity) filter (where has_approval), 0) as quantity_approved,
    coalesce(sum(quantity) filter (where is_exported), 0) as quantity_exported,
    coalesce(sum(quantity) filter (where is_pending_export), 0) as quantity_pending_export,
    coalesce(sum(quantity) filter (where unit_status = 'Retired'), 0) as quantity_retired,
    coalesce(sum(quantity) filter (where unit_status = 'Retired' and ca_status = 'Completed'), 0)
        as quantity_retired_with_ca_completed,
    coalesce(sum(quantity) filter (where {{ text_key('covered_by_ndc') }} = 'inside ndc'), 0)
        as quantity_inside_ndc,
    coalesce(sum(quantity) filter (where {{ text_key('covered_by_ndc') }} = 'outside ndc'), 0)
        as quantity_outside_ndc,
    coalesce(sum(quantity) filter (where is_article6_relevant), 0) as quantity_article6_relevant
from units
group by host_country_iso3, vintage_year
