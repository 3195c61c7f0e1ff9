{#- Article 6 AEF table 2: authorizations of ITMOs, per cooperative approach and authorized
    (acquiring) party, with the authorized quantity. -#}
with source as (
    select * from {{ source('cadt_v2', 'aef_t2_authorizations') }}
)

select
    cad_trust_aef_t2_authorizations_id,
    cad_trust_aef_t1_submission_id,
    cad_trust_unit_id,
    cad_trust_project_id,
    cad_trust_aef_t5_authorized_entities_id,
    created_by_org_uid,
    {{ clean_text('aef_t2_authorizations_id') }} as authorization_id,
    aef_t2_authorizations_date as authorization_date,
    {{ clean_text('aef_t2_authorizations_cooperative_approach_id') }} as cooperative_approach_id,
    aef_t2_authorizations_version as authorization_version,
    aef_t2_authorizations_quantity as quantity,
    {{ clean_text('aef_t2_authorizations_metric') }} as metric,
    aef_t2_authorizations_gwp_value as gwp_value,
    {{ clean_text('aef_t2_authorizations_sector') }} as sector,
    {{ clean_text('aef_t2_authorizations_activity_type') }} as activity_type,
    {{ clean_text('aef_t2_authorizations_purposes_for_authorization') }} as purposes_for_authorization,
    {{ clean_text('aef_t2_authorizations_authorized_party_id') }} as authorized_party_id,
    -- the column's real name has the typo ("authozied"): aefT2AuthorizationsAuthoziedEntityId
    {{ clean_text('aef_t2_authorizations_authozied_entity_id') }} as authorized_entity_id,
    aef_t2_authorizations_oimp_authorized_party as oimp_authorized_party,
    aef_t2_authorizations_authorized_timeframe as authorized_timeframe,
    aef_t2_authorizations_authorization_documentation as authorization_documentation,
    aef_t2_authorizations_first_transfer_definition_oimp as first_transfer_definition_oimp,
    created_at,
    updated_at,
    _source as record_source,
    _synced_at as synced_at
from source
