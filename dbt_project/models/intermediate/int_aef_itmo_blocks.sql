{#- Article 6 AEF (v2): one row per T3 action and per T4 holding, attributed to its T2
    authorization (cadTrustAefT2AuthorizationsId, else the same cooperative approach and
    authorization id), with the authorized party, the host party (the first transferring party,
    else the authorization's T1 submission party) as ISO3, and the ITMO id range as numbers when
    the ids are numeric. `draws_from_authorization`: the action takes ITMOs out of what the
    authorization left (First Transfer, Use, Cancellation; docs/counting-rules.md, Article 6
    AEF). -#}
with t2 as (
    select * from {{ ref('stg_cadt_v2__aef_t2_authorizations') }}
),

t1 as (
    select * from {{ ref('stg_cadt_v2__aef_t1_submission') }}
),

party_codes as (
    select distinct upper(iso2) as party_key, iso3 from {{ ref('country_codes') }} where iso2 is not null
    union
    select distinct upper(iso3), iso3 from {{ ref('country_codes') }} where iso3 is not null
    union
    select distinct upper(country_key), iso3 from {{ ref('country_codes') }} where iso3 is not null
),

authorizations as (
    select
        t2.*,
        t1_host.iso3 as t1_host_iso3
    from t2
    left join t1 on t1.cad_trust_aef_t1_submission_id = t2.cad_trust_aef_t1_submission_id
    left join party_codes as t1_host on t1_host.party_key = upper(t1.party_key)
),

blocks as (
    select
        'T3' as aef_table,
        cad_trust_aef_t3_actions_id as aef_record_id,
        cad_trust_aef_t2_authorizations_id,
        cooperative_approach_id,
        authorization_id,
        action_type,
        action_type_raw,
        action_date,
        first_transferring_party_id,
        acquiring_party_id,
        itmo_first_id,
        itmo_last_id,
        quantity_tco2,
        vintage_year,
        cad_trust_unit_id,
        cad_trust_project_id,
        created_by_org_uid
    from {{ ref('stg_cadt_v2__aef_t3_actions') }}
    union all
    select
        'T4', cad_trust_aef_t4_holdings_id, cad_trust_aef_t2_authorizations_id,
        cooperative_approach_id, authorization_id, 'Holding', null, null,
        first_transferring_party_id, null, itmo_first_id, itmo_last_id, quantity_tco2,
        vintage_year, cad_trust_unit_id, cad_trust_project_id, created_by_org_uid
    from {{ ref('stg_cadt_v2__aef_t4_holdings') }}
)

select
    b.aef_table,
    b.aef_record_id,
    coalesce(by_id.cad_trust_aef_t2_authorizations_id, by_key.cad_trust_aef_t2_authorizations_id)
        as cad_trust_aef_t2_authorizations_id,
    b.cooperative_approach_id,
    b.authorization_id,
    coalesce(by_id.authorized_party_id, by_key.authorized_party_id, b.acquiring_party_id)
        as party_id,
    b.action_type,
    b.action_type_raw,
    b.action_type in ('First Transfer', 'Use', 'Cancellation') as draws_from_authorization,
    b.action_date,
    b.first_transferring_party_id,
    coalesce(host.iso3, by_id.t1_host_iso3, by_key.t1_host_iso3) as host_country_iso3,
    b.itmo_first_id,
    b.itmo_last_id,
    try_cast(b.itmo_first_id as hugeint) as itmo_first_number,
    try_cast(b.itmo_last_id as hugeint) as itmo_last_number,
    b.quantity_tco2,
    b.vintage_year,
    b.cad_trust_unit_id,
    b.cad_trust_project_id,
    coalesce(b.created_by_org_uid, by_id.created_by_org_uid, by_key.created_by_org_uid) as org_uid
from blocks as b
left join authorizations as by_id
    on by_id.cad_trust_aef_t2_authorizations_id = b.cad_trust_aef_t2_authorizations_id
left join authorizations as by_key
    on b.cad_trust_aef_t2_authorizations_id is null
    and by_key.cooperative_approach_id = b.cooperative_approach_id
    and by_key.authorization_id = b.authorization_id
left join party_codes as host on host.party_key = upper(b.first_transferring_party_id)
