{#- Canonical unit status vocabulary: the v1 pick list (Held, Retired, Cancelled, Expired, Buffer,
    Exported, Pending Export) plus 'Other' for anything unrecognised and 'Missing' for NULL/empty.
    Historic and informal spellings are folded in here, in one place. -#}

{% macro canonical_unit_status(expr) -%}
    {%- set aliases = {
        'held': 'Held', 'active': 'Held', 'for sale': 'Held', 'issued': 'Held', 'available': 'Held',
        'retired': 'Retired', 'retirement': 'Retired',
        'cancelled': 'Cancelled', 'canceled': 'Cancelled', 'cancellation': 'Cancelled',
        'expired': 'Expired',
        'buffer': 'Buffer', 'buffer pool': 'Buffer',
        'exported': 'Exported',
        'pending export': 'Pending Export', 'pendingexport': 'Pending Export',
    } -%}
    case coalesce({{ text_key(expr) }}, '')
        when '' then 'Missing'
        {%- for key, value in aliases.items() %}
        when '{{ key }}' then '{{ value }}'
        {%- endfor %}
        else 'Other'
    end
{%- endmacro %}

{#- Status group used for totals: retired, cancelled, expired, exported, or outstanding
    (Held, Buffer, Pending Export, Other, Missing: still on the registry as far as CADT says). -#}
{% macro unit_status_group(canonical_expr) -%}
    case {{ canonical_expr }}
        when 'Retired' then 'retired'
        when 'Cancelled' then 'cancelled'
        when 'Expired' then 'expired'
        when 'Exported' then 'exported'
        else 'outstanding'
    end
{%- endmacro %}
