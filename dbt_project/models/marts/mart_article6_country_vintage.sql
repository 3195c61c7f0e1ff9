{#- Article 6 per host country x vintage, from both data models, one row per figure with the
    source it came from (`source`):
      v1_units   unit records of the v1 model (mart_article6_units; corresponding-adjustment
                 fields and Letter-of-Authorization labels on the unit): units_total,
                 ca_committed, ca_completed, authorized_by_label, retired_with_ca_completed
      v2_units   unit records of the v2 model: units_total, authorized_by_label
      v2_aef_t2  authorizations (T2 has no vintage: vintage_year NULL): authorized
      v2_aef_t3  actions: first_transferred, used, cancelled, transferred_on, other_actions
      v2_aef_t4  holdings: held
    Superseded v1 records count 0 (their v2 twins count). The host country of an AEF figure is
    its first transferring party, else the authorization's T1 submission party. -#}
with units as (
    select * from {{ ref('mart_article6_units') }}
),

blocks as (
    select * from {{ ref('int_aef_itmo_blocks') }}
),

unit_figures as (
    select host_country_iso3, vintage_year, data_model || '_units' as source, v.figure,
        v.quantity, v.counted
    from units
    cross join lateral (values
        ('units_total', quantity, true),
        ('ca_committed', quantity, data_model = 'v1' and not has_contradictory_ca and ca_declaration = 'Committed'),
        ('ca_completed', quantity, data_model = 'v1' and not has_contradictory_ca and ca_status = 'Completed'),
        ('authorized_by_label', quantity, has_authorization),
        ('retired_with_ca_completed', quantity_retired, data_model = 'v1' and not has_contradictory_ca and ca_status = 'Completed')
    ) as v(figure, quantity, counted)
    where v.counted and not (data_model = 'v2' and v.figure in ('ca_committed', 'ca_completed', 'retired_with_ca_completed'))
),

authorization_hosts as (
    select cad_trust_aef_t2_authorizations_id, any_value(host_country_iso3) as host_country_iso3
    from blocks
    where host_country_iso3 is not null
    group by cad_trust_aef_t2_authorizations_id
),

t2_figures as (
    select h.host_country_iso3, cast(null as bigint) as vintage_year, 'v2_aef_t2' as source,
        'authorized' as figure, t2.quantity, true as counted
    from {{ ref('stg_cadt_v2__aef_t2_authorizations') }} as t2
    left join authorization_hosts as h
        on h.cad_trust_aef_t2_authorizations_id = t2.cad_trust_aef_t2_authorizations_id
),

block_figures as (
    select host_country_iso3, vintage_year,
        case aef_table when 'T3' then 'v2_aef_t3' else 'v2_aef_t4' end as source,
        case
            when aef_table = 'T4' then 'held'
            when action_type = 'First Transfer' then 'first_transferred'
            when action_type = 'Use' then 'used'
            when action_type = 'Cancellation' then 'cancelled'
            when action_type in ('Transfer', 'Acquisition') then 'transferred_on'
            else 'other_actions'
        end as figure,
        quantity_tco2 as quantity, true as counted
    from blocks
),

figures as (
    select * from unit_figures
    union all select * from t2_figures
    union all select * from block_figures
)

select
    md5(coalesce(host_country_iso3, '-') || '|' || coalesce(cast(vintage_year as varchar), '-')
        || '|' || source || '|' || figure) as country_vintage_figure_id,
    host_country_iso3,
    vintage_year,
    source,
    figure,
    cast(coalesce(sum(quantity), 0) as decimal(38, 6)) as quantity,
    count(*) as record_count
from figures
group by host_country_iso3, vintage_year, source, figure
