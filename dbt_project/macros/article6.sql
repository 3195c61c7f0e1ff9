{#- Corresponding adjustments: canonical declaration and status (the v1 pick lists, plus
    Other and Missing), and the pairs that contradict each other. -#}

{% macro canonical_ca_declaration(expr) -%}
    case {{ text_key(expr) }}
        when 'committed' then 'Committed'
        when 'not required' then 'Not Required'
        when 'not applicable' then 'Not Required'
        when 'unknown' then 'Unknown'
        else case when {{ expr }} is null then 'Missing' else 'Other' end
    end
{%- endmacro %}

{% macro canonical_ca_status(expr) -%}
    case {{ text_key(expr) }}
        when 'not started' then 'Not Started'
        when 'pending' then 'Pending'
        when 'completed' then 'Completed'
        when 'not applicable' then 'Not Applicable'
        else case when {{ expr }} is null then 'Missing' else 'Other' end
    end
{%- endmacro %}

{#- A declaration and a status that cannot both be true: no adjustment is required, yet one is
    pending or completed; or one is committed, yet the status says it does not apply. -#}
{% macro is_contradictory_ca(declaration, status) -%}
    (
        ({{ declaration }} = 'Not Required' and {{ status }} in ('Pending', 'Completed'))
        or ({{ declaration }} = 'Committed' and {{ status }} = 'Not Applicable')
    )
{%- endmacro %}
