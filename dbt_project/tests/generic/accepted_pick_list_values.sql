{#- Values of `column_name` must be in the live governance pick list `list_name`
    (cadt_v1.pick_lists). Passes when that pick list was not mirrored. Use with severity warn:
    CADT never enforced pick lists on read, and historic values exist. -#}
{% test accepted_pick_list_values(model, column_name, list_name) %}
with allowed as (
    select list_value
    from {{ ref('stg_cadt_v1__pick_lists') }}
    where list_name = '{{ list_name }}'
)

select {{ column_name }} as value, count(*) as record_count
from {{ model }}
where {{ column_name }} is not null
  and exists (select 1 from allowed)
  and {{ column_name }} not in (select list_value from allowed)
group by 1
{% endtest %}
