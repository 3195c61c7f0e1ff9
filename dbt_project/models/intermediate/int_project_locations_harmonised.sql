{#- Project locations with the host country mapped to ISO 3166 alpha-3 (NULL when unmatched;
    the raw name is kept, and mart_unmatched_country_names lists what did not match). A
    placeholder ('n.a.', 'unknown', ...) has no country_key: no country, and not unmatched. -#}
with locations as (
    select * from {{ ref('stg_cadt_v1__project_locations') }}
),

countries as (
    select * from {{ ref('country_codes') }}
)

select
    locations.project_location_id,
    locations.warehouse_project_id,
    locations.org_uid,
    locations.country_raw,
    locations.country_key,
    countries.iso3 as country_iso3,
    countries.country_name,
    locations.in_country_region,
    locations.created_at,
    locations.record_source
from locations
left join countries on countries.country_key = locations.country_key
