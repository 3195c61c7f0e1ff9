select
    md5(concat_ws('|', org_uid, coalesce(warehouse_project_id, '-'),
        coalesce(cast(vintage_year as varchar), '-'), coalesce(unit_type, '-'), unit_status)) as balance_id,
    org_uid,
    warehouse_project_id,
    vintage_year,
    unit_type,
    unit_status,
    any_value(status_group) as status_group,
    cast(sum(unit_count) as bigint) as quantity,
    count(*) as unit_record_count
from {{ ref('int_units_enriched') }}
group by org_uid, warehouse_project_id, vintage_year, unit_type, unit_status
