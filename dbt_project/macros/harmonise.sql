{#- Shared normalisation expressions. Pure SQL expressions so they stay vectorised in DuckDB. -#}

{#- Matching key for free text: lower case, accents stripped, '&' -> 'and', runs of anything that
    is not a letter or digit -> one space, trimmed; NULL when nothing is left.
    scripts/generate_country_seed.py implements the same function in Python. -#}
{% macro text_key(expr) -%}
    nullif(trim(regexp_replace(replace(lower(strip_accents(coalesce({{ expr }}, ''))), '&', ' and '), '[^a-z0-9]+', ' ', 'g')), '')
{%- endmacro %}

{#- Trimmed text with inner whitespace collapsed; NULL for empty strings. -#}
{% macro clean_text(expr) -%}
    nullif(trim(regexp_replace({{ expr }}, '\s+', ' ', 'g')), '')
{%- endmacro %}

{#- Developer / organisation name key for grouping: text_key without legal-form words
    (ltd, limited, llc, inc, gmbh, s.a., pvt, plc, corp, co, ...) and without a leading "the". -#}
{% macro company_key(expr) -%}
    nullif(trim(regexp_replace(regexp_replace(
        ' ' || coalesce({{ text_key(expr) }}, '') || ' ',
        ' (the|ltd|limited|llc|l l c|inc|incorporated|gmbh|ag|sa|s a|sas|srl|bv|b v|nv|plc|pvt|private|pte|pty|co|corp|corporation|company|llp|lp|ltda|spa|oy|ab|as|kk) ', ' ', 'g'),
        ' (the|ltd|limited|llc|inc|gmbh|ag|sa|sas|srl|bv|nv|plc|pvt|private|pte|pty|co|corp|corporation|company|llp|lp|ltda|spa|oy|ab|as|kk) ', ' ', 'g')), '')
{%- endmacro %}

{#- Split a serial block boundary like 'VCS-1234-2021-000123' into its text prefix and the
    trailing number. Returns the prefix (text before the trailing digits). -#}
{% macro serial_prefix(expr) -%}
    regexp_extract({{ expr }}, '^(.*?)([0-9]+)$', 1)
{%- endmacro %}

{% macro serial_number(expr) -%}
    try_cast(nullif(regexp_extract({{ expr }}, '^(.*?)([0-9]+)$', 2), '') as hugeint)
{%- endmacro %}

{#- Placeholders: values that say "no value" (n.a., N/A, -, unknown, none, tbd, empty, ...).
    Compared on text_key, so case, accents and punctuation do not matter; a value with no letter
    or digit at all ('-', '?', '', '   ') is a placeholder too. Not used on columns where
    "Unknown" is a pick-list value with a meaning (coveredByNDC, correspondingAdjustment*). -#}
{% macro placeholder_keys() -%}
    ('n a', 'na', 'n a n a', 'none', 'null', 'nil', 'unknown', 'not known', 'tbd', 'tba',
     'to be determined', 'to be confirmed', 'not available', 'not applicable', 'not specified',
     'unspecified', 'no data', 'missing', 'xxx')
{%- endmacro %}

{#- `key`: the value's text_key when it is already computed (a column of a CTE: a model that
    asks several questions of one value computes its text_key once). -#}
{% macro is_placeholder(expr, key=none) -%}
    coalesce({{ key or text_key(expr) }} in {{ placeholder_keys() }}, true)
{%- endmacro %}

{#- clean_text, and NULL for a placeholder. Keep the raw value beside it (`<column>_raw`). -#}
{% macro null_if_placeholder(expr, key=none) -%}
    case when {{ is_placeholder(expr, key) }} then null else {{ clean_text(expr) }} end
{%- endmacro %}

{#- For a staging model: '<name>, <name>' of the given columns whose value was published but is a
    placeholder (NULL when there is none). `columns` maps the output name to the source column;
    `keys` (optional) maps a source column to its text_key, when computed already. -#}
{% macro placeholder_columns(columns, keys={}) -%}
    nullif(concat_ws(', '
    {%- for name, column in columns.items() %},
        case when {{ column }} is not null and {{ is_placeholder(column, keys.get(column)) }} then '{{ name }}' end
    {%- endfor %}
    ), '')
{%- endmacro %}

{#- Serial blocks. A serialNumberBlock is "<start>-<end>", and both serials may contain '-'
    (VCS-1001-2020-A1-VCS-1001-2020-A1000). The split is at the first '-' whose two sides both
    end in digits and share the same prefix: serial_block_split_at gives its position (NULL when
    there is none), serial_block_part part 1 (start) or 2 (end). The split is costly: compute it
    only for the rows that need it (behind a CASE, once per row). -#}
{% macro serial_block_split_at(expr) -%}
    list_filter(range(2, length({{ expr }})), lambda i: substr({{ expr }}, i, 1) = '-'
        and regexp_matches(substr({{ expr }}, 1, i - 1), '[0-9]$')
        and regexp_matches(substr({{ expr }}, i + 1), '[0-9]$')
        and {{ serial_prefix('substr(' ~ expr ~ ', 1, i - 1)') }}
            = {{ serial_prefix('substr(' ~ expr ~ ', i + 1)') }})[1]
{%- endmacro %}

{% macro serial_block_part(expr, part) -%}
    {%- if part == 1 -%}
        substr({{ expr }}, 1, {{ serial_block_split_at(expr) }} - 1)
    {%- else -%}
        substr({{ expr }}, {{ serial_block_split_at(expr) }} + 1)
    {%- endif -%}
{%- endmacro %}
