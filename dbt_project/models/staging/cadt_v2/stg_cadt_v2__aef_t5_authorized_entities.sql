{#- Article 6 AEF table 5: entities authorized to use ITMOs, per cooperative approach. -#}
with source as (
    select * from {{ source('cadt_v2', 'aef_t5_authorized_entities') }}
)

select
    cad_trust_aef_t5_authorized_entities_id,
    cad_trust_aef_t1_submission_id,
    cad_trust_unit_id,
    cad_trust_project_id,
    cad_trust_aef_t2_authorizations_id,
    created_by_org_uid,
    aef_t5_authorized_entities_authorization_date as authorization_date,
    {{ clean_text('aef_t5_authorized_entities_name') }} as entity_name,
    {{ clean_text('aef_t5_authorized_entities_incorporation_country') }} as incorporation_country,
    {{ clean_text('aef_t5_authorized_entities_id') }} as entity_id,
    {{ clean_text('aef_t5_authorized_entities_cooperative_approach_id') }} as cooperative_approach_id,
    aef_t5_authorized_entities_conditions as conditions,
    aef_t5_authorized_entities_change_conditions as change_conditions,
    created_at,
    updated_at,
    _source as record_source,
    _synced_at as synced_at
from source
