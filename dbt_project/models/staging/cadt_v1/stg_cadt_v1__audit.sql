{#- The change feed. `table` arrives in two spellings (DataLayer prefix or model name); both are
    mapped to the warehouse table name. `change` stays text here: only unit rows are parsed, in
    int_unit_versions, so the JSON work is done once and only where needed. -#}
with source as (
    select * from {{ source('cadt_v1', 'audit') }}
),

renamed as (
    select
        id as audit_id,
        org_uid,
        registry_id,
        root_hash,
        generation,
        upper(trim(type)) as change_type,
        "table" as audit_table_raw,
        case "table"
            when 'project' then 'projects'
            when 'projects' then 'projects'
            when 'unit' then 'units'
            when 'units' then 'units'
            when 'label_units' then 'unit_labels'
            when 'label_unit' then 'unit_labels'
            when 'labelUnit' then 'unit_labels'
            when 'labelUnits' then 'unit_labels'
            when 'issuances' then 'issuances'
            when 'issuance' then 'issuances'
            when 'labels' then 'labels'
            when 'label' then 'labels'
            when 'projectLocations' then 'project_locations'
            when 'projectLocation' then 'project_locations'
            when 'project_locations' then 'project_locations'
            when 'coBenefits' then 'co_benefits'
            when 'coBenefit' then 'co_benefits'
            when 'co_benefits' then 'co_benefits'
            when 'relatedProjects' then 'related_projects'
            when 'relatedProject' then 'related_projects'
            when 'related_projects' then 'related_projects'
            when 'projectRatings' then 'project_ratings'
            when 'projectRating' then 'project_ratings'
            when 'project_ratings' then 'project_ratings'
            when 'estimations' then 'estimations'
            when 'estimation' then 'estimations'
            when 'comment' then 'comment'
            when 'author' then 'author'
        end as table_name,
        change,
        onchain_confirmation_time_stamp as onchain_at,
        author,
        comment,
        created_at,
        _synced_at as synced_at
    from source
)

select * from renamed
