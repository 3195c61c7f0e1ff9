{#- Article 6 AEF table 1: a host party's submissions (one per report year and version). -#}
with source as (
    select * from {{ source('cadt_v2', 'aef_t1_submission') }}
)

select
    cad_trust_aef_t1_submission_id,
    org_uid,
    {{ clean_text('aef_t1_submission_party') }} as party,
    {{ text_key('aef_t1_submission_party') }} as party_key,
    aef_t1_submission_version as submission_version,
    aef_t1_submission_report_year as report_year,
    aef_t1_submission_submission_date as submission_date,
    aef_t1_submission_review_status as review_status,
    aef_t1_submission_result_check as result_check,
    aef_t1_submission_ndc_first_year as ndc_first_year,
    aef_t1_submission_ndc_last_year as ndc_last_year,
    aef_t1_submission_reference_review_report as reference_review_report,
    created_at,
    updated_at,
    _source as record_source,
    _synced_at as synced_at
from source
