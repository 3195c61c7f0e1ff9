{#- v2 project locations with the host country mapped to ISO 3166 alpha-3, as
    int_project_locations_harmonised does for v1. -#}
select
    locations.cad_trust_location_id,
    locations.cad_trust_project_id,
    locations.country_raw,
    locations.country_key,
    countries.iso3 as country_iso3,
    countries.country_name,
    locations.in_country_region,
    locations.created_at,
    locations.record_source
from {{ ref('stg_cadt_v2__location') }} as locations
left join {{ ref('country_codes') }} as countries on countries.country_key = locations.country_key
