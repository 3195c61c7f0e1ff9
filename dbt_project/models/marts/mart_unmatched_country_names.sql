{#- Country names that did not map to ISO 3166 alpha-3: kept raw everywhere, reported here so the
    alias list in scripts/generate_country_seed.py can grow. Placeholders ('n.a.', 'unknown', ...)
    are not names: they read as no country and are not listed here. -#}
with location_names as (
    select
        'project_locations.country' as source_column,
        country_raw,
        count(*) as record_count,
        min(project_location_id) as example_record_id
    from {{ ref('int_project_locations_harmonised') }}
    where country_key is not null and country_iso3 is null
    group by country_raw
),

owner_names as (
    select
        'units.country_jurisdiction_of_owner' as source_column,
        owner_country_raw as country_raw,
        count(*) as record_count,
        min(warehouse_unit_id) as example_record_id
    from {{ ref('int_units_enriched') }}
    where owner_country_key is not null and owner_country_iso3 is null
    group by owner_country_raw
)

select source_column, country_raw, record_count, example_record_id from location_names
union all
select source_column, country_raw, record_count, example_record_id from owner_names
