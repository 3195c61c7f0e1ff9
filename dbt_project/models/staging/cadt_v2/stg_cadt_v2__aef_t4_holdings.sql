{#- Article 6 AEF table 4: ITMOs held, per authorization, with the id range still held. -#}
with source as (
    select * from {{ source('cadt_v2', 'aef_t4_holdings') }}
)

select
    cad_trust_aef_t4_holdings_id,
    cad_trust_aef_t1_submission_id,
    cad_trust_unit_id,
    cad_trust_project_id,
    cad_trust_aef_t2_authorizations_id,
    created_by_org_uid,
    {{ clean_text('aef_t4_holdings_cooperative_approach_id') }} as cooperative_approach_id,
    {{ clean_text('aef_t4_holdings_authorization_id') }} as authorization_id,
    {{ clean_text('aef_t4_holdings_first_transferring_party_id') }} as first_transferring_party_id,
    aef_t4_holdings_party_itmo_registry_id as party_itmo_registry_id,
    {{ clean_text('aef_t4_holdings_itmo_first_id') }} as itmo_first_id,
    {{ clean_text('aef_t4_holdings_itmo_last_id') }} as itmo_last_id,
    aef_t4_holdings_unit_registry_id as unit_registry_id,
    aef_t4_holdings_unit_first_id as unit_first_id,
    aef_t4_holdings_unit_last_id as unit_last_id,
    {{ clean_text('aef_t4_holdings_metric') }} as metric,
    aef_t4_holdings_quantity_t_co2 as quantity_tco2,
    aef_t4_holdings_quantity_non_ghg as quantity_non_ghg,
    aef_t4_holdings_mitigation_type as mitigation_type,
    aef_t4_holdings_vintage_year as vintage_year,
    created_at,
    updated_at,
    _source as record_source,
    _synced_at as synced_at
from source
