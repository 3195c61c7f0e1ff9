{#- One row per currently retired unit record of either data model; quantity is its
    quantity_retired (0 for a superseded v1 record), retired_at its retirement date (v1:
    int_unit_retirement_dates; v2: unitStatusDate; the rule in retired_at_source). -#}
{{ config(
    meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id', 'org': 'org_uid',
                      'data_model': 'data_model'}},
) }}
{%- set plan = changes_plan() %}
select
    data_model,
    is_superseded,
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
    -- v1 has no beneficiary field: the holder (unitOwner); v2: unitRetirementBeneficiary
    case when data_model = 'v2' then unit_retirement_beneficiary else unit_owner end
        as retirement_beneficiary,
    case when data_model = 'v2' then unit_retirement_beneficiary else unit_owner_raw end
        as retirement_beneficiary_raw,
    unit_retirement_beneficiary_id as retirement_beneficiary_id,
    unit_retirement_detail as retirement_detail,
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
