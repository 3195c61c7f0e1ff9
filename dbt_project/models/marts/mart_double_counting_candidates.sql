{#- Pairs of current project records that may describe the same activity: one row per pair and
    rule, project_a_id < project_b_id, ranked by evidence tier (1 strongest):
      1 same_origin_project_id       same registry of origin and origin project id, published by
                                     two different organizations
      2 overlapping_serial_range     unit blocks with the same serial prefix and overlapping
                                     numbers on two different project records
      3 same_name_developer_country  same name, same (known) developer and a shared host country;
                                     different organization or registry
      4 same_name_and_country        same name and a shared host country, developers differ or
                                     are unknown; different organization or registry
      4 same_developer_sector_country_overlap  CADT's find-duplicate-issuances rule (same sector
                                     and host country, overlapping issuance periods, different
                                     registries), kept only for the same (known) developer: on its
                                     own it pairs every two projects of a kind in a country -#}
-- both data models; a superseded v1 project is its v2 twin, not a candidate of its own
with projects as (
    select * from {{ ref('int_projects_enriched') }}
    where is_superseded is not true
),

project_countries as (
    select distinct warehouse_project_id, country_iso3
    from {{ ref('int_project_locations_harmonised') }}
    where country_iso3 is not null
    union
    select distinct cad_trust_project_id, country_iso3
    from {{ ref('int_v2_locations_harmonised') }}
    where country_iso3 is not null
),

known_developers as (
    select warehouse_project_id, developer_key
    from projects
    where developer_key <> '(unknown)'
),

same_origin as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'same_origin_project_id' as rule,
        cast(null as varchar) as country_iso3,
        'registry of origin "' || a.registry_of_origin || '", origin project id "'
            || a.origin_project_id || '", published by two organizations' as evidence,
        cast(1 as bigint) as evidence_count
    from projects as a
    inner join projects as b
        on a.origin_project_id_key = b.origin_project_id_key
        and a.registry_of_origin = b.registry_of_origin
        and a.warehouse_project_id < b.warehouse_project_id
        and a.org_uid <> b.org_uid
),

unit_blocks as (
    select warehouse_project_id, serial_prefix, serial_start_number, serial_end_number
    from {{ ref('int_units_enriched') }}
    where project_exists and serial_block_parsed and is_superseded is not true
),

-- only the blocks that overlap another block at all take part in the pair join (a sort instead
-- of a join of every two blocks of a prefix): in start order, a block overlaps an earlier one
-- when it starts before the largest end so far, and a later one when the next block starts
-- before its end. Every block of an overlapping pair is kept, so the pairs are the same.
serial_ranges as (
    select warehouse_project_id, serial_prefix, serial_start_number, serial_end_number
    from (
        select
            *,
            max(serial_end_number) over (
                partition by serial_prefix order by serial_start_number, serial_end_number
                rows between unbounded preceding and 1 preceding
            ) as previous_end,
            lead(serial_start_number) over (
                partition by serial_prefix order by serial_start_number, serial_end_number
            ) as next_start
        from unit_blocks
    ) as ordered
    where serial_start_number <= previous_end or next_start <= serial_end_number
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
        and a.serial_start_number <= b.serial_end_number
        and b.serial_start_number <= a.serial_end_number
        and a.warehouse_project_id < b.warehouse_project_id
    group by a.warehouse_project_id, b.warehouse_project_id
),

named as (
    select p.warehouse_project_id, p.project_name_key, p.project_name, p.org_uid, p.registry,
        d.developer_key, c.country_iso3
    from projects as p
    inner join project_countries as c on c.warehouse_project_id = p.warehouse_project_id
    left join known_developers as d on d.warehouse_project_id = p.warehouse_project_id
    where p.project_name_key is not null
),

name_pairs as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        a.developer_key is not null and a.developer_key = b.developer_key as same_developer,
        min(a.country_iso3) as country_iso3,
        'name "' || any_value(a.project_name) || '" in '
            || string_agg(distinct a.country_iso3, ';' order by a.country_iso3) as evidence,
        count(distinct a.country_iso3) as evidence_count
    from named as a
    inner join named as b
        on a.project_name_key = b.project_name_key
        and a.country_iso3 = b.country_iso3
        and a.warehouse_project_id < b.warehouse_project_id
    where a.org_uid <> b.org_uid or a.registry is distinct from b.registry
    group by all
),

same_name as (
    select
        project_a_id,
        project_b_id,
        case when same_developer then 'same_name_developer_country' else 'same_name_and_country' end as rule,
        country_iso3,
        evidence || case when same_developer then ', same developer' else '' end as evidence,
        evidence_count
    from name_pairs
),

issuance_periods as (
    select
        p.warehouse_project_id,
        p.sector_key,
        p.registry,
        d.developer_key,
        c.country_iso3,
        i.issuance_start_date,
        i.issuance_end_date
    from projects as p
    inner join known_developers as d on d.warehouse_project_id = p.warehouse_project_id
    inner join project_countries as c on c.warehouse_project_id = p.warehouse_project_id
    inner join {{ ref('stg_cadt_v1__issuances') }} as i
        on i.warehouse_project_id = p.warehouse_project_id
    where p.sector_key is not null
      and p.registry is not null
      and i.issuance_start_date is not null
      and i.issuance_end_date is not null
),

sector_rule as (
    select
        a.warehouse_project_id as project_a_id,
        b.warehouse_project_id as project_b_id,
        'same_developer_sector_country_overlap' as rule,
        min(a.country_iso3) as country_iso3,
        'developer, sector and host country shared; ' || count(*)
            || ' overlapping issuance period pair(s), from '
            || cast(min(greatest(a.issuance_start_date, b.issuance_start_date)) as date) || ' to '
            || cast(max(least(a.issuance_end_date, b.issuance_end_date)) as date) as evidence,
        count(*) as evidence_count
    from issuance_periods as a
    inner join issuance_periods as b
        on a.developer_key = b.developer_key
        and a.sector_key = b.sector_key
        and a.country_iso3 = b.country_iso3
        and a.issuance_start_date <= b.issuance_end_date
        and b.issuance_start_date <= a.issuance_end_date
        and a.warehouse_project_id < b.warehouse_project_id
    where a.registry <> b.registry
    group by a.warehouse_project_id, b.warehouse_project_id
),

pairs as (
    select * from same_origin
    union all select * from serial_rule
    union all select * from same_name
    union all select * from sector_rule
),

tiered as (
    select
        *,
        case rule
            when 'same_origin_project_id' then 1
            when 'overlapping_serial_range' then 2
            when 'same_name_developer_country' then 3
            else 4
        end as tier
    from pairs
)

select
    cast(md5(t.rule || '|' || t.project_a_id || '|' || t.project_b_id) as varchar) as candidate_id,
    a.data_model as data_model_a,
    b.data_model as data_model_b,
    cast(t.tier as bigint) as tier,
    t.rule,
    t.project_a_id,
    t.project_b_id,
    count(*) over (partition by t.project_a_id, t.project_b_id) as pair_rule_count,
    min(t.tier) over (partition by t.project_a_id, t.project_b_id) = t.tier as is_pair_best_tier,
    a.org_uid as org_uid_a,
    b.org_uid as org_uid_b,
    a.organization_name as organization_name_a,
    b.organization_name as organization_name_b,
    a.registry as registry_a,
    b.registry as registry_b,
    a.project_id as registry_project_id_a,
    b.project_id as registry_project_id_b,
    a.project_name as project_name_a,
    b.project_name as project_name_b,
    a.project_developer as developer_a,
    b.project_developer as developer_b,
    t.country_iso3,
    t.evidence,
    cast(t.evidence_count as bigint) as evidence_count
from tiered as t
inner join projects as a on a.warehouse_project_id = t.project_a_id
inner join projects as b on b.warehouse_project_id = t.project_b_id
