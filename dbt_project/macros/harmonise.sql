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
