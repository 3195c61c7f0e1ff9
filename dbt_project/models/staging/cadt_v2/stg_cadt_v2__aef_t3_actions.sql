{#- Article 6 AEF table 3: actions on ITMOs (First Transfer, Transfer, Acquisition, Use,
    Cancellation, Authorization), each with its ITMO id range and quantity (tCO2e).
    `action_type` is the canonical type (text_key match on the dictionary's pick list; 'Other'
    for anything else), `action_type_raw` as published. -#}
with source as (
    select * from {{ source('cadt_v2', 'aef_t3_actions') }}
)

select
    cad_trust_aef_t3_actions_id,
    cad_trust_aef_t1_submission_id,
    cad_trust_unit_id,
    cad_trust_project_id,
    cad_trust_aef_t2_authorizations_id,
    created_by_org_uid,
    aef_t3_actions_date as action_date,
    aef_t3_actions_type as action_type_raw,
    case {{ text_key('aef_t3_actions_type') }}
        when 'first transfer' then 'First Transfer'
        when 'transfer' then 'Transfer'
        when 'acquisition' then 'Acquisition'
        when 'use' then 'Use'
        when 'cancellation' then 'Cancellation'
        when 'authorization' then 'Authorization'
        when 'authorisation' then 'Authorization'
        else 'Other'
    end as action_type,
    aef_t3_actions_subtype as action_subtype,
    {{ clean_text('aef_t3_actions_cooperative_approach_id') }} as cooperative_approach_id,
    {{ clean_text('aef_t3_actions_authorization_id') }} as authorization_id,
    {{ clean_text('aef_t3_actions_first_transferring_party_id') }} as first_transferring_party_id,
    aef_t3_actions_party_itmo_registry_id as party_itmo_registry_id,
    {{ clean_text('aef_t3_actions_itmo_first_id') }} as itmo_first_id,
    {{ clean_text('aef_t3_actions_itmo_last_id') }} as itmo_last_id,
    aef_t3_actions_unit_registry_id as unit_registry_id,
    aef_t3_actions_unit_first_id as unit_first_id,
    aef_t3_actions_unit_last_id as unit_last_id,
    {{ clean_text('aef_t3_actions_metric') }} as metric,
    aef_t3_actions_quantity_t_co2 as quantity_tco2,
    aef_t3_actions_quantity_non_ghg as quantity_non_ghg,
    aef_t3_actions_mitigation_type as mitigation_type,
    aef_t3_actions_vintage_year as vintage_year,
    {{ clean_text('aef_t3_actions_transferring_party_id') }} as transferring_party_id,
    {{ clean_text('aef_t3_actions_acquiring_party_id') }} as acquiring_party_id,
    aef_t3_actions_purpose_of_use_oimp as purpose_of_use_oimp,
    {{ clean_text('aef_t3_actions_using_participating_party_id') }} as using_participating_party_id,
    aef_t3_actions_using_authorized_entity_id as using_authorized_entity_id,
    aef_t3_actions_itmo_used_year as itmo_used_year,
    aef_t3_actions_consistency_check_result as consistency_check_result,
    created_at,
    updated_at,
    _source as record_source,
    _synced_at as synced_at
from source
