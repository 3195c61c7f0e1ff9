with units as (
    select * from {{ ref('int_units_enriched') }}
    where unit_status = 'Retired'
),

dates as (
    select * from {{ ref('int_unit_retirement_dates') }}
)

select
    units.warehouse_unit_id,
    units.org_uid,
    units.warehouse_project_id,
    units.project_exists,
    units.issuance_id,
    units.current_registry,
    units.project_name,
    units.host_country_iso3,
    units.unit_count as quantity,
    units.vintage_year,
    units.unit_type,
    units.unit_status_raw,
    units.unit_status_reason as retirement_reason,
    units.unit_owner as retirement_beneficiary,
    units.owner_country_iso3,
    units.serial_number_block,
    units.corresponding_adjustment_declaration,
    units.corresponding_adjustment_status,
    dates.retired_at,
    cast(extract(year from dates.retired_at) as bigint) as retirement_year,
    dates.retired_generation,
    dates.retired_at_source
from units
left join dates
    on dates.warehouse_unit_id = units.warehouse_unit_id and dates.org_uid = units.org_uid
