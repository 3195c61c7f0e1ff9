{#- One row per currently retired unit record; quantity is its quantity_retired, retired_at its
    retirement date (int_unit_retirement_dates, with the rule in retired_at_source). -#}
{{ config(
    materialized='incremental',
    incremental_strategy='append',
    on_schema_change='fail',
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid'}},
    pre_hook="{{ changes_delete() }}",
    post_hook="{{ changes_consumed() }}",
) }}
{%- set plan = changes_plan() %}
select
    warehouse_unit_id,
    org_uid,
    project_key,
    warehouse_project_id,
    project_exists,
    issuance_id,
    registry,
    current_registry,
    project_name,
    host_country_iso3,
    quantity_retired as quantity,
    vintage_year,
    unit_type,
    unit_status_raw,
    unit_status_reason as retirement_reason,
    unit_owner as retirement_beneficiary,
    unit_owner_raw as retirement_beneficiary_raw,
    owner_country_iso3,
    serial_number_block,
    corresponding_adjustment_declaration,
    corresponding_adjustment_status,
    retired_at,
    cast(year(retired_at at time zone 'UTC') as bigint) as retirement_year,
    retired_generation,
    retired_at_source,
    is_retired_before_vintage
from {{ ref('int_units_enriched') }}
where unit_status = 'Retired'
  and {{ changes_scope(plan) }}
