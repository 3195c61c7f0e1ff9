{#- The search query, as a DuckDB table macro in the warehouse (BI tools and `cadt-mirror search`
    call the same thing):

        select * from marts.search('nandu reforestacion', country := 'PER', max_results := 10);
        select * from marts.search(null, serial := 'VCS-1003-2019-250');

    q is matched accent- and case-insensitively (text_key): every word must be found, in the
    record's search_text, or (projects) in a name word within 1 edit (2 for 8+ letters). Filters
    (NULL = no filter): country (ISO code or name), registry, developer, methodology, serial (one
    serial or a block "<first>-<last>": the unit blocks that contain / overlap it). Unit records
    are returned for words or a serial; filters alone list projects.
    Score per word: whole name word 10, inside the name 6, name word within the edit distance 5,
    elsewhere 3; plus 50 when the name equals q, 20 when it starts with it, 10 when it contains
    it; plus 20 for a unit block containing the whole serial range. Best first. -#}
{% macro create_search_macro(relation) -%}
{%- set index = relation.schema ~ '.' ~ relation.identifier -%}
{%- set country_codes = ref('country_codes') -%}
{%- set registry_aliases = ref('registry_aliases') -%}
create or replace macro {{ relation.schema }}.search(
    q, country := null, registry := null, developer := null, methodology := null,
    serial := null, max_results := 20
) as table
with query as (
    select
        coalesce(string_split({{ text_key('q') }}, ' '), []) as q_tokens,
        {{ text_key('q') }} as q_key,
        {{ text_key('country') }} as country_key,
        (select c.iso3 from {{ country_codes.schema }}.{{ country_codes.identifier }} as c
         where c.country_key = {{ text_key('country') }}) as country_iso3,
        {{ text_key('registry') }} as registry_key,
        (select r.registry_name from {{ registry_aliases.schema }}.{{ registry_aliases.identifier }} as r
         where r.registry_key = {{ text_key('registry') }}) as registry_name,
        {{ company_key('developer') }} as developer_key,
        {{ text_key('methodology') }} as methodology_key,
        coalesce({{ serial_block_part('lower(trim(serial))', 1) }}, lower(trim(serial))) as serial_first,
        coalesce({{ serial_block_part('lower(trim(serial))', 2) }}, lower(trim(serial))) as serial_last
),

serial_query as (
    select
        query.*,
        lower({{ serial_prefix('query.serial_first') }}) as s_prefix,
        {{ serial_number('query.serial_first') }} as s_start,
        {{ serial_number('query.serial_last') }} as s_end
    from query
),

filtered as (
    select i.*, sq.*
    from {{ index }} as i, serial_query as sq
    -- unit records only when asked for by words or a serial (filters alone list projects)
    where (i.doc_type = 'project' or len(sq.q_tokens) > 0 or sq.serial_first is not null)
      and (sq.country_key is null
            or list_contains(string_split(i.country_iso3_list, ';'), sq.country_iso3)
            or contains(coalesce(i.country_keys, ''), sq.country_key))
      and (sq.registry_key is null
            or i.registry = sq.registry_name
            or contains({{ text_key('i.registry') }}, sq.registry_key))
      and (sq.developer_key is null or contains(i.developer_key, sq.developer_key))
      and (sq.methodology_key is null or contains({{ text_key('i.methodology') }}, sq.methodology_key))
      and (sq.serial_first is null
            or (i.doc_type = 'unit'
                and i.serial_prefix_key = sq.s_prefix
                and i.serial_start_number <= sq.s_end
                and i.serial_end_number >= sq.s_start))
),

scored as (
    select
        f.*,
        list_transform(f.q_tokens, lambda t: greatest(
            case when contains(' ' || coalesce(f.name_key, '') || ' ', ' ' || t || ' ') then 10
                 when contains(coalesce(f.name_key, ''), t) then 6
                 else 0 end,
            case when f.doc_type = 'project' and length(t) >= 4
                  and len(list_filter(string_split(f.name_key, ' '), lambda w:
                        damerau_levenshtein(t, w) <= case when length(t) >= 8 then 2 else 1 end)) > 0
                 then 5 else 0 end,
            case when contains(f.search_text, t) then 3 else 0 end
        )) as token_scores
    from filtered as f
),

ranked as (
    select
        s.*,
        coalesce(list_sum(s.token_scores), 0)
            + case when s.name_key = s.q_key then 50
                   when starts_with(s.name_key, s.q_key) then 20
                   when contains(s.name_key, s.q_key) then 10
                   else 0 end
            + case when s.serial_first is not null
                    and s.serial_start_number <= s.s_start and s.serial_end_number >= s.s_end
                   then 20 else 0 end as score
    from scored as s
    where coalesce(list_min(s.token_scores), 1) > 0
)

select
    row_number() over (order by r.score desc, r.doc_type, r.title, r.doc_id) as rank,
    r.score,
    r.doc_type,
    r.doc_id,
    r.title,
    r.organization_name,
    r.registry,
    r.registry_project_id,
    r.country_iso3_list,
    r.developer,
    r.methodology,
    r.vintage_year,
    r.unit_status,
    r.quantity,
    r.serial_number_block,
    r.warehouse_project_id,
    r.org_uid
from ranked as r
order by rank
limit max_results
{%- endmacro %}
