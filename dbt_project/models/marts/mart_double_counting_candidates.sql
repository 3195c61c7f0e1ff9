{#- Pairs of project records that may describe the same activity, one row per pair and rule.
    project_a_id < project_b_id, so each pair appears once per rule. Rules:
      same_origin_project       same normalised registry of origin and origin project id,
                                different organisation or current registry
      same_name_and_country     same normalised project name and a shared host country,
                                different organisation or current registry
      cadt_sector_country_issuance_overlap   CADT's own duplicate-issuance rule: same sector and
                                host country, different current registries, overlapping issuance periods
      overlapping_serial_range  unit serial ranges (same prefix, overlapping numbers) overlap
                                within one registry, between two different project records -#}
with projects as (
    select * from {{ ref('int_projects_enriched') }}
),

project_countries as (
    select distinct warehouse_project_id, country_iso3
    from {{ ref('int_project_locations_harmonised') }}
    where country_iso3 is not null
),

same_origin as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'same_origin_project' as rule,
        cast(null as varchar) as country_iso3,
        'registry of origin "' || a.registry_of_origin || '", origin project id "'
            || a.origin_project_id || '"' as evidence,
        cast(1 as bigint) as evidence_count
    from projects as a
    inner join projects as b
        on a.origin_project_id_key = b.origin_project_id_key
        and coalesce(a.registry_of_origin, '') = coalesce(b.registry_of_origin, '')
        and a.warehouse_project_id < b.warehouse_project_id
    where a.origin_project_id_key is not null
      and (a.org_uid <> b.org_uid or a.current_registry is distinct from b.current_registry)
),

named as (
    select p.warehouse_project_id, p.project_name_key, p.project_name, p.org_uid,
        p.current_registry, c.country_iso3
    from projects as p
    inner join project_countries as c on c.warehouse_project_id = p.warehouse_project_id
    where p.project_name_key is not null
),

same_name as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'same_name_and_country' as rule,
        min(a.country_iso3) as country_iso3,
        'name "' || any_value(a.project_name) || '" in '
            || string_agg(distinct a.country_iso3, ';' order by a.country_iso3) as evidence,
        count(distinct a.country_iso3) as evidence_count
    from named as a
    inner join named as b
        on a.project_name_key = b.project_name_key
        and a.country_iso3 = b.country_iso3
        and a.warehouse_project_id < b.warehouse_project_id
    where a.org_uid <> b.org_uid or a.current_registry is distinct from b.current_registry
    group by a.warehouse_project_id, b.warehouse_project_id
),

issuance_periods as (
    select
        p.warehouse_project_id,
        p.sector_key,
        p.current_registry,
        c.country_iso3,
        i.issuance_start_date,
        i.issuance_end_date
    from projects as p
    inner join project_countries as c on c.warehouse_project_id = p.warehouse_project_id
    inner join {{ ref('stg_cadt_v1__issuances') }} as i
        on i.warehouse_project_id = p.warehouse_project_id
    where p.sector_key is not null
      and p.current_registry is not null
      and i.issuance_start_date is not null
      and i.issuance_end_date is not null
),

cadt_rule as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'cadt_sector_country_issuance_overlap' as rule,
        min(a.country_iso3) as country_iso3,
        'sector and host country shared; ' || count(*) || ' overlapping issuance period pair(s), from '
            || cast(min(greatest(a.issuance_start_date, b.issuance_start_date)) as date) || ' to '
            || cast(max(least(a.issuance_end_date, b.issuance_end_date)) as date) as evidence,
        count(*) as evidence_count
    from issuance_periods as a
    inner join issuance_periods as b
        on a.sector_key = b.sector_key
        and a.country_iso3 = b.country_iso3
        and a.issuance_start_date <= b.issuance_end_date
        and b.issuance_start_date <= a.issuance_end_date
        and a.warehouse_project_id < b.warehouse_project_id
    where a.current_registry <> b.current_registry
    group by a.warehouse_project_id, b.warehouse_project_id
),

serial_ranges as (
    select
        warehouse_project_id,
        current_registry,
        serial_prefix,
        serial_start_number,
        serial_end_number,
        warehouse_unit_id
    from {{ ref('int_units_enriched') }}
    where warehouse_project_id is not null
      and project_exists
      and serial_start_number is not null
      and serial_end_number >= serial_start_number
      and serial_prefix = serial_end_prefix
),

serial_rule as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'overlapping_serial_range' as rule,
        cast(null as varchar) as country_iso3,
        count(*) || ' overlapping unit block pair(s), e.g. "' || any_value(a.serial_prefix)
            || '" ' || cast(min(greatest(a.serial_start_number, b.serial_start_number)) as varchar)
            || '-' || cast(max(least(a.serial_end_number, b.serial_end_number)) as varchar) as evidence,
        count(*) as evidence_count
    from serial_ranges as a
    inner join serial_ranges as b
        on a.serial_prefix = b.serial_prefix
        and coalesce(a.current_registry, '') = coalesce(b.current_registry, '')
        and a.serial_start_number <= b.serial_end_number
        and b.serial_start_number <= a.serial_end_number
        and a.warehouse_project_id < b.warehouse_project_id
    group by a.warehouse_project_id, b.warehouse_project_id
),

pairs as (
    select * from same_origin
    union all select * from same_name
    union all select * from cadt_rule
    union all select * from serial_rule
)

select
    cast(md5(pairs.rule || '|' || pairs.project_a_id || '|' || pairs.project_b_id) as varchar) as candidate_id,
    pairs.rule,
    pairs.project_a_id,
    pairs.project_b_id,
    a.org_uid as org_uid_a,
    b.org_uid as org_uid_b,
    a.organization_name as organization_name_a,
    b.organization_name as organization_name_b,
    a.current_registry as registry_a,
    b.current_registry as registry_b,
    a.project_id as registry_project_id_a,
    b.project_id as registry_project_id_b,
    a.project_name as project_name_a,
    b.project_name as project_name_b,
    pairs.country_iso3,
    pairs.evidence,
    cast(pairs.evidence_count as bigint) as evidence_count
from pairs
inner join projects as a on a.warehouse_project_id = pairs.project_a_id
inner join projects as b on b.warehouse_project_id = pairs.project_b_id
