select
    warehouse_unit_id,
    org_uid,
    warehouse_project_id,
    current_registry,
    host_country_iso3,
    vintage_year,
    unit_type,
    unit_status,
    unit_count as quantity,
    corresponding_adjustment_declaration,
    corresponding_adjustment_status,
    case {{ text_key('corresponding_adjustment_declaration') }}
        when 'committed' then 'Committed'
        when 'not required' then 'Not Required'
        when 'unknown' then 'Unknown'
        when 'not applicable' then 'Not Required'
        else case when corresponding_adjustment_declaration is null then 'Missing' else 'Other' end
    end as ca_declaration,
    case {{ text_key('corresponding_adjustment_status') }}
        when 'not started' then 'Not Started'
        when 'pending' then 'Pending'
        when 'completed' then 'Completed'
        when 'not applicable' then 'Not Applicable'
        else case when corresponding_adjustment_status is null then 'Missing' else 'Other' end
    end as ca_status,
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
        {{ text_key('corresponding_adjustment_declaration') }} = 'committed'
        or {{ text_key('corresponding_adjustment_status') }} in ('pending', 'completed')
        or unit_has_authorization_label or project_has_authorization_label
        or unit_has_approval_label or project_has_approval_label
        or unit_status in ('Exported', 'Pending Export')
        or current_registry = 'Article 6.4 Mechanism Registry'
    ) is true as is_article6_relevant
from {{ ref('int_units_enriched') }}
