{#- One row per current unit record with its Article 6 attributes. A record whose corresponding-
    adjustment declaration and status contradict each other (has_contradictory_ca) is not
    Article 6 relevant, whatever else it carries: it is reported apart, in
    mart_article6_by_country.quantity_ca_contradictory and in mart_data_quality. -#}
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
    warehouse_project_id,
    registry,
    current_registry,
    host_country_iso3,
    vintage_year,
    unit_type,
    unit_status,
    quantity_issued as quantity,
    quantity_retired,
    corresponding_adjustment_declaration,
    corresponding_adjustment_status,
    ca_declaration,
    ca_status,
    has_contradictory_ca,
    unit_has_authorization_label as has_authorization,
    unit_has_approval_label as has_approval,
    project_has_authorization_label,
    project_has_approval_label,
    unit_has_qualification_label,
    unit_has_endorsement_label,
    label_types as unit_label_types,
    covered_by_ndc,
    unit_status = 'Exported' as is_exported,
    unit_status = 'Pending Export' as is_pending_export,
    (
        ca_declaration = 'Committed'
        or ca_status in ('Pending', 'Completed')
        or unit_has_authorization_label or project_has_authorization_label
        or unit_has_approval_label or project_has_approval_label
        or unit_status in ('Exported', 'Pending Export')
        or registry = 'Article 6.4 Mechanism Registry'
    ) is true and not has_contradictory_ca as is_article6_relevant
from {{ ref('int_units_enriched') }}
where {{ changes_scope(plan) }}
