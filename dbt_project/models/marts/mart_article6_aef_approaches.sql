{#- Article 6 from the v2 AEF tables: one row per cooperative approach x authorized party.
    authorized = Σ T2 quantity; first transferred / used / cancelled = Σ T3 quantity by action
    type; held = Σ T4 quantity; remaining = authorized - (first transferred + used + cancelled),
    which must equal held (assert_aef_holdings_reconcile; docs/counting-rules.md, Article 6 AEF).
    Transfers and acquisitions move ITMOs already first-transferred: reported, never subtracted.
    ITMO id ranges: the lowest and highest id of the actions and of the holdings. -#}
with authorizations as (
    select
        cooperative_approach_id,
        authorized_party_id as party_id,
        count(*) as authorization_count,
        sum(quantity) as quantity_authorized,
        min(authorization_date) as first_authorization_date,
        any_value(created_by_org_uid) as org_uid,
        string_agg(distinct authorization_id, '; ' order by authorization_id) as authorization_ids
    from {{ ref('stg_cadt_v2__aef_t2_authorizations') }}
    group by cooperative_approach_id, authorized_party_id
),

blocks as (
    select * from {{ ref('int_aef_itmo_blocks') }}
),

activity as (
    select
        cooperative_approach_id,
        party_id,
        any_value(host_country_iso3) filter (where host_country_iso3 is not null) as host_country_iso3,
        any_value(org_uid) as org_uid,
        count(*) filter (where aef_table = 'T3') as action_count,
        sum(quantity_tco2) filter (where action_type = 'First Transfer') as quantity_first_transferred,
        sum(quantity_tco2) filter (where action_type = 'Use') as quantity_used,
        sum(quantity_tco2) filter (where action_type = 'Cancellation') as quantity_cancelled,
        sum(quantity_tco2) filter (where action_type in ('Transfer', 'Acquisition')) as quantity_transferred_on,
        sum(quantity_tco2) filter (where aef_table = 'T3' and action_type not in
            ('First Transfer', 'Use', 'Cancellation', 'Transfer', 'Acquisition')) as quantity_other_actions,
        count(*) filter (where aef_table = 'T4') as holding_count,
        sum(quantity_tco2) filter (where aef_table = 'T4') as quantity_held,
        min(itmo_first_number) filter (where aef_table = 'T3') as actions_itmo_first_number,
        max(itmo_last_number) filter (where aef_table = 'T3') as actions_itmo_last_number,
        arg_min(itmo_first_id, coalesce(itmo_first_number, 0)) filter (where aef_table = 'T3') as actions_itmo_first_id,
        arg_max(itmo_last_id, coalesce(itmo_last_number, 0)) filter (where aef_table = 'T3') as actions_itmo_last_id,
        arg_min(itmo_first_id, coalesce(itmo_first_number, 0)) filter (where aef_table = 'T4') as held_itmo_first_id,
        arg_max(itmo_last_id, coalesce(itmo_last_number, 0)) filter (where aef_table = 'T4') as held_itmo_last_id,
        min(action_date) as first_action_date,
        max(action_date) as last_action_date
    from blocks
    group by cooperative_approach_id, party_id
),

joined as (
    select
        coalesce(a.cooperative_approach_id, x.cooperative_approach_id) as cooperative_approach_id,
        coalesce(a.party_id, x.party_id) as party_id,
        coalesce(a.org_uid, x.org_uid) as org_uid,
        x.host_country_iso3,
        coalesce(a.authorization_count, 0) as authorization_count,
        a.authorization_ids,
        a.first_authorization_date,
        cast(coalesce(a.quantity_authorized, 0) as decimal(38, 6)) as quantity_authorized,
        cast(coalesce(x.quantity_first_transferred, 0) as decimal(38, 6)) as quantity_first_transferred,
        cast(coalesce(x.quantity_used, 0) as decimal(38, 6)) as quantity_used,
        cast(coalesce(x.quantity_cancelled, 0) as decimal(38, 6)) as quantity_cancelled,
        cast(coalesce(x.quantity_transferred_on, 0) as decimal(38, 6)) as quantity_transferred_on,
        cast(coalesce(x.quantity_other_actions, 0) as decimal(38, 6)) as quantity_other_actions,
        cast(coalesce(x.quantity_held, 0) as decimal(38, 6)) as quantity_held,
        coalesce(x.action_count, 0) as action_count,
        coalesce(x.holding_count, 0) as holding_count,
        x.actions_itmo_first_id,
        x.actions_itmo_last_id,
        x.held_itmo_first_id,
        x.held_itmo_last_id,
        x.first_action_date,
        x.last_action_date
    from authorizations as a
    full outer join activity as x
        on x.cooperative_approach_id is not distinct from a.cooperative_approach_id
        and x.party_id is not distinct from a.party_id
)

select
    md5(coalesce(cooperative_approach_id, '-') || '|' || coalesce(party_id, '-')) as approach_party_id,
    cooperative_approach_id,
    party_id,
    org_uid,
    host_country_iso3,
    authorization_count,
    authorization_ids,
    first_authorization_date,
    quantity_authorized,
    quantity_first_transferred,
    quantity_used,
    quantity_cancelled,
    quantity_transferred_on,
    quantity_other_actions,
    quantity_held,
    cast(quantity_authorized - quantity_first_transferred - quantity_used - quantity_cancelled
        as decimal(38, 6)) as quantity_remaining,
    quantity_authorized - quantity_first_transferred - quantity_used - quantity_cancelled
        = quantity_held as is_reconciled,
    action_count,
    holding_count,
    actions_itmo_first_id,
    actions_itmo_last_id,
    held_itmo_first_id,
    held_itmo_last_id,
    first_action_date,
    last_action_date
from joined
