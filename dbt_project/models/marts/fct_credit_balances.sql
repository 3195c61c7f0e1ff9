{#- Credits per organization x project x vintage x unit type x canonical status: sums of
    int_units_enriched.quantity_issued (all unit records; project_key 'unattributed:<org>' for
    those without a known project), per data model; superseded v1 records are left out (their
    v2 twins hold the credits). -#}
select
    md5(concat_ws('|', data_model, org_uid, project_key,
        coalesce(cast(vintage_year as varchar), '-'), coalesce(unit_type, '-'), unit_status)) as balance_id,
    data_model,
    org_uid,
    project_key,
    any_value(warehouse_project_id) as warehouse_project_id,
    any_value(registry) as registry,
    vintage_year,
    unit_type,
    unit_status,
    any_value(status_group) as status_group,
    cast(sum(quantity_issued) as bigint) as quantity,
    count(*) as unit_record_count
from {{ ref('int_units_enriched') }}
where is_superseded is not true
group by data_model, org_uid, project_key, vintage_year, unit_type, unit_status
