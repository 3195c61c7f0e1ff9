{#- For the reconciliation tests: every current unit record of both data models, straight from
    staging, with `is_superseded` worked out independently of the models (a v1 record whose
    project's registry project id, as text_key, is also a v2 project's of the same
    organization) and `issuance_exists`. Columns: data_model, unit_id, org_uid, unit_count,
    unit_status, issuance_exists, is_superseded. -#}
{% macro counted_unit_records() %}
    with superseded_projects as (  -- per v1 project, not per unit record: the same answer
        select
            p.warehouse_project_id,
            exists (
                select 1 from {{ ref('stg_cadt_v2__project') }} as v2
                where v2.org_uid = p.org_uid and v2.project_id_key = {{ text_key('p.project_id') }}
            ) as is_superseded
        from {{ ref('stg_cadt_v1__projects') }} as p
    )
    select
        'v1' as data_model, u.warehouse_unit_id as unit_id, u.org_uid, u.unit_count,
        u.unit_status, i.issuance_id is not null as issuance_exists,
        coalesce(p.is_superseded, false) as is_superseded
    from {{ ref('stg_cadt_v1__units') }} as u
    left join {{ ref('stg_cadt_v1__issuances') }} as i on i.issuance_id = u.issuance_id
    left join superseded_projects as p on p.warehouse_project_id = i.warehouse_project_id
    union all
    select
        'v2', u.cad_trust_unit_id, u.org_uid, u.unit_count, u.unit_status,
        i.cad_trust_issuance_id is not null, false
    from {{ ref('stg_cadt_v2__unit') }} as u
    left join {{ ref('stg_cadt_v2__issuance') }} as i on i.cad_trust_issuance_id = u.cad_trust_issuance_id
{% endmacro %}
