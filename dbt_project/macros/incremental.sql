{#- Incremental models over the sync's change log (docs/counting-rules.md, "Incremental builds").

    A model configured (in dbt_project.yml, like int_unit_versions) with

        materialized='incremental', incremental_strategy='append', on_schema_change='fail',
        pre_hook="{{ changes_delete() }}", post_hook="{{ changes_consumed() }}"

    and, in its own config, `meta={'changes': {'scope': 'units', 'unit': 'warehouse_unit_id',
    'org': 'org_uid'}}`,

    and whose select is filtered by the same scope,

        {%- set plan = changes_plan() -%}
        ... where {{ changes_scope(plan) }}      (column names may be overridden: unit='u.id')

    recomputes, on each build, only the rows the syncs it has not consumed yet can have changed:
    the pre-hook deletes the rows in scope, the select inserts them again as they are now. Any
    row in scope may be recomputed without harm (processing a sync twice is idempotent), so a
    scope only has to be wide enough, never exact. Scopes (meta.changes.scope):

      units        the unit records any change can reach (changed_units_sql), and every row of
                   an organization whose audit history was rewritten (columns: unit, org; with
                   issuance: also the rows of an issuance that changed). With data_model (the
                   column holding 'v1' / 'v2'): every v2 row when the syncs changed anything in
                   the v2 catalogue (v2 is read node-wide and small: its rows are recomputed
                   together), and every row of an organization whose v2 projects changed (its
                   v1 rows' is_superseded may flip: docs/counting-rules.md, Both data models);
                   and every row of an organization whose v1 entry was added, removed or
                   renamed (its v2 rows show its name and registry from it). The unit records
                   in scope are found once per build and set of syncs (cadt_build.unit_scopes)
      generations  the (organization, generation) groups of audit rows the syncs wrote, and
                   every row of an organization whose history was rewritten (org, generation)
      syncs        the syncs' own rows (sync)
      records      (a staging model of one raw table) the rows of the raw table `table` that the
                   syncs wrote (`_sync_id`; a sync that re-reads an organization writes its
                   rows again), the keys the change log names (inserted, updated, deleted) and
                   every row of an organization's first snapshot of the table (key, org)
    `also`: SQL for rows the pre-hook deletes on every incremental build (the select must then
    write them again).

    Bookkeeping, in schema cadt_build (created by on-run-start, written by the post-hook inside
    the model's transaction, so a failed model consumes nothing):
      consumed_syncs   (model, sync_id, consumed_at): the syncs each model has taken in
      model_refreshes  (model, refreshed_at, refresh, reason, syncs, rows, code_version): one row
                       per build that changed the model: 'full' or 'incremental', why, how many
                       syncs it took in and how many rows it wrote

    A model takes in a sync only once every incremental model upstream of it has, and refreshes
    in full (in place) when the table is new or `--full-refresh` is given, when it has no record
    of what it holds, when the dbt project's code changed since its last refresh, when an
    incremental model upstream was refreshed in full after it, or when the change log of a sync
    it has not consumed was pruned (cadt_mirror.sync_changes lists changes record_changes no
    longer has). -#}

{% macro build_state_schema() %}cadt_build{% endmacro %}


{#- The sync's tables by name, not through source(): the bookkeeping is not a model's input
    (no dbt or Dagster dependency, nothing for a unit test to mock). -#}
{% macro _raw(schema, table) %}{{ return(schema ~ '.' ~ table) }}{% endmacro %}


{#- Another model's table by name (it is upstream of every model that asks, through refs). -#}
{% macro _model(name) %}
    {{ return(graph.nodes['model.' ~ project_name ~ '.' ~ name].relation_name) }}
{% endmacro %}


{#- on-run-start: the bookkeeping tables. -#}
{% macro create_build_state() %}
    {%- set s = build_state_schema() -%}
    create schema if not exists {{ s }};
    create table if not exists {{ s }}.consumed_syncs (
        model varchar, sync_id varchar, consumed_at timestamptz
    );
    create table if not exists {{ s }}.unit_scopes (scope_key varchar, warehouse_unit_id varchar);
    delete from {{ s }}.unit_scopes;
    create table if not exists {{ s }}.build_plans (invocation_id varchar, model varchar, plan json);
    delete from {{ s }}.build_plans;
    create table if not exists {{ s }}.model_refreshes (
        model varchar, refreshed_at timestamptz, refresh varchar, reason varchar,
        syncs bigint, rows bigint, code_version varchar
    );
    alter table {{ s }}.model_refreshes add column if not exists rows bigint
{% endmacro %}


{#- A fingerprint of the project's models and seeds (and dbt's version): when it changes, the
    incremental models refresh in full. (A change in a macro alone is not seen: run
    `cadt-mirror build --full-refresh` after one.) -#}
{% macro changes_code_version() %}
    {%- set parts = [dbt_version] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id') -%}
        {%- if node.resource_type in ('model', 'seed') -%}
            {%- do parts.append(node.unique_id ~ '=' ~ node.checksum.checksum) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('|'))) }}
{% endmacro %}


{#- The incremental models this one reads, directly or through views and tables. -#}
{% macro changes_upstream(node, found=none) %}
    {%- set found = [] if found is none else found -%}
    {%- for uid in node.depends_on.nodes -%}
        {%- set parent = graph.nodes.get(uid) -%}
        {%- if parent is not none and parent.resource_type == 'model' -%}
            {%- if parent.config.materialized == 'incremental' -%}
                {%- if parent.name not in found -%}{%- do found.append(parent.name) -%}{%- endif -%}
            {%- else -%}
                {%- do changes_upstream(parent, found) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found) }}
{% endmacro %}


{#- Every sync run (also those that changed nothing: a sync re-reading an organization writes
    its rows again, and the rows then name it in `_sync_id`; every change is logged under a run
    of sync_runs), and those this model may take in now (consumed by every incremental model
    upstream). -#}
{% macro _eligible_syncs_sql() %}
    {%- set s = build_state_schema() -%}
    select sync_id from (
        select sync_id from {{ _raw('cadt_mirror', 'sync_runs') }}
        union
        select sync_id from {{ _raw('cadt_mirror', 'sync_changes') }}
    ) as known
    {%- for u in changes_upstream(model) %}
    intersect
    select sync_id from {{ s }}.consumed_syncs where model = '{{ u }}'
    {%- endfor %}
{% endmacro %}


{#- What this build does to the model: {'mode': 'full' | 'incremental' | 'none', 'syncs': [sync
    ids to take in], 'reason': text}. Called by the model's select and by its hooks; all see the
    same plan: the first call makes it (`_make_plan`) and keeps it for this invocation in
    cadt_build.build_plans, the others read it back. -#}
{% macro changes_plan() %}
    {%- if not execute or this is none or not is_incremental() -%}  {#- (no `this` in unit tests) #}
        {{ return({'mode': 'full', 'syncs': [], 'reason': 'built from scratch', 'rewritten_orgs': [],
                   'v2_changed': true, 'v1_orgs_changed': []}) }}
    {%- endif -%}
    {%- set plans = build_state_schema() ~ '.build_plans' -%}
    {%- set key = "invocation_id = '" ~ invocation_id ~ "' and model = '" ~ model.name ~ "'" -%}
    {%- set kept = run_query('select plan from ' ~ plans ~ ' where ' ~ key) -%}
    {%- if kept.rows | length > 0 -%}
        {{ return(fromjson(kept.rows[0][0])) }}
    {%- endif -%}
    {%- set plan = _make_plan() -%}
    {%- do run_query("insert into " ~ plans ~ " values ('" ~ invocation_id ~ "', '" ~ model.name
                     ~ "', '" ~ (tojson(plan) | replace("'", "''")) ~ "')") -%}
    {{ return(plan) }}
{% endmacro %}


{% macro _make_plan() %}
    {%- set s = build_state_schema() -%}
    {%- set rc = _raw('cadt_mirror', 'record_changes') -%}
    {%- set sc = _raw('cadt_mirror', 'sync_changes') -%}
    {%- set upstream = changes_upstream(model) -%}
    {%- set query -%}
        with pending as (
            select sync_id from ({{ _eligible_syncs_sql() }}) as eligible
            except
            select sync_id from {{ s }}.consumed_syncs where model = '{{ model.name }}'
        ),
        last_refresh as (
            select max(refreshed_at) as refreshed_at, arg_max(code_version, refreshed_at) as code_version
            from {{ s }}.model_refreshes where model = '{{ model.name }}'
        )
        select
            (select string_agg(sync_id, ',' order by sync_id) from pending) as pending,
            (select count(*) from {{ s }}.consumed_syncs where model = '{{ model.name }}') as consumed,
            (select code_version from last_refresh) as code_version,
            (select count(*) from {{ s }}.model_refreshes
             where refresh = 'full'
               and model in ({% for u in upstream %}'{{ u }}', {% endfor %}'')
               and refreshed_at > coalesce((select refreshed_at from last_refresh), '-infinity'::timestamptz)
            ) as upstream_full,
            (select count(distinct c.sync_id) from {{ sc }} as c
             where c.sync_id in (select sync_id from pending)
               and c.table_name <> 'audit'
               and (c.inserted > 0 or c.updated > 0 or c.deleted > 0)
               and not exists (
                   select 1 from {{ rc }} as r
                   where r.sync_id = c.sync_id and r.org_uid = c.org_uid and r.table_name = c.table_name
               )
            ) as gaps,
            (select string_agg(distinct org_uid, ',' order by org_uid) from {{ sc }}
             where sync_id in (select sync_id from pending)
               and table_name = 'audit' and (updated > 0 or deleted > 0)
               and coalesce(catalog_version, 'v1') = 'v1'
            ) as rewritten_orgs,
            (select count(*) from {{ rc }}
             where sync_id in (select sync_id from pending) and catalog_version = 'v2'
            ) as v2_changes,
            (select string_agg(distinct record_key, ',' order by record_key) from {{ rc }}
             where sync_id in (select sync_id from pending)
               and coalesce(catalog_version, 'v1') = 'v1' and table_name = 'organizations'
               and (op in ('insert', 'delete') or json_exists(changed, '$.name'))
            ) as v1_orgs_changed
    {%- endset -%}
    {%- set row = run_query(query).rows[0] -%}
    {%- set syncs = (row[0] or '').split(',') | reject('equalto', '') | list -%}
    {%- set rewritten = (row[5] or '').split(',') | reject('equalto', '') | list -%}
    {%- set v1_orgs = (row[7] or '').split(',') | reject('equalto', '') | list -%}
    {%- if row[1] == 0 -%}
        {%- set mode, reason = 'full', 'no record of the syncs it holds' -%}
    {%- elif row[2] != changes_code_version() -%}
        {%- set mode, reason = 'full', 'the dbt project changed since its last refresh' -%}
    {%- elif row[3] > 0 -%}
        {%- set mode, reason = 'full', 'a model it reads was refreshed in full' -%}
    {%- elif row[4] > 0 -%}
        {%- set mode, reason = 'full', 'the change log of ' ~ row[4] ~ ' sync(s) was pruned' -%}
    {%- elif syncs | length == 0 -%}
        {%- set mode, reason = 'none', 'no new sync' -%}
    {%- else -%}
        {%- set mode, reason = 'incremental', syncs | length ~ ' new sync(s)' -%}
    {%- endif -%}
    {#- the unit records in scope (changed_units_sql), found once per build and set of syncs
        (every model of a build taking in the same syncs shares them), in cadt_build.unit_scopes -#}
    {%- set scope_key = local_md5(invocation_id ~ '|' ~ (syncs | join(','))) -%}
    {%- set plan = {'mode': mode, 'syncs': syncs, 'reason': reason, 'rewritten_orgs': rewritten,
                    'v2_changed': row[6] > 0, 'v1_orgs_changed': v1_orgs, 'scope_key': scope_key} -%}
    {%- if mode == 'incremental' and model.config.meta.get('changes', {}).get('scope') == 'units'
          and run_query("select count(*) from " ~ s ~ ".unit_scopes where scope_key = '"
                        ~ scope_key ~ "'").rows[0][0] == 0 -%}
        {%- do run_query(
            "insert into " ~ s ~ ".unit_scopes select '" ~ scope_key ~ "', warehouse_unit_id from ("
            ~ changed_units_sql(plan) ~ ") as changed") -%}
    {%- endif -%}
    {{ return(plan) }}
{% endmacro %}


{% macro _sync_list(plan) -%}
    {%- for s in plan.syncs -%}'{{ s | replace("'", "''") }}'{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}


{#- A column's value before the change: a delete's row, an update's old value (NULL when the
    update left it alone). -#}
{% macro _before(column) -%}
    case op
        when 'delete' then json_extract_string(changed, '$.{{ column }}')
        when 'update' then json_extract_string(changed, '$.{{ column }}[0]')
    end
{%- endmacro %}


{#- (org_uid, generation) of every audit row the syncs wrote. -#}
{% macro changed_generations_sql(plan) -%}
    select distinct org_uid as changed_org_uid, generation as changed_generation
    from {{ _raw('cadt_v1', 'audit') }}
    where _sync_id in ({{ _sync_list(plan) }})
{%- endmacro %}


{#- Organizations whose audit rows the syncs rewrote or deleted (a reset feed re-read in a
    snapshot, an organization removed): everything derived from their history is recomputed.
    (Known when the plan is made: a literal list, so the common case, none, costs nothing.) -#}
{% macro _rewritten_orgs(plan) -%}
    {{ _literals(plan.rewritten_orgs) }}
{%- endmacro %}


{% macro _literals(values) -%}
    {%- for o in values -%}'{{ o | replace("'", "''") }}'{{ ', ' if not loop.last }}{%- endfor -%}
{%- endmacro %}


{#- Every unit record whose unit-level rows (int_units_enriched and what is built on it, its
    status events and retirement date) the syncs can have changed: units changed themselves;
    units of an issuance, project location or unit label that changed, of a label that changed,
    of a project whose attributes changed (the project, its locations or labels, its
    organization's name) through their issuance; every unit of an organization's first snapshot
    or of an organization whose name changed; and every unit the audit rows the syncs wrote
    mention (their history). Keys and foreign keys are taken before and after each change.
    (Every CTE names its columns: a column a CTE lacks would silently bind to the outer query.) -#}
{% macro changed_units_sql(plan) -%}
    {%- set t = {} -%}
    {%- for name in ('units', 'unit_labels', 'labels', 'issuances', 'projects', 'project_locations') -%}
        {%- do t.update({name: _raw('cadt_v1', name)}) -%}
    {%- endfor -%}
    with rc as (
        select table_name, record_key as k, op, changed, org_uid
        from {{ _raw('cadt_mirror', 'record_changes') }}
        where sync_id in ({{ _sync_list(plan) }}) and coalesce(catalog_version, 'v1') = 'v1'
    ),
    changed as (select * from rc where op <> 'snapshot'),
    snapshot_orgs as (select table_name, org_uid from rc where op = 'snapshot'),
    renamed_orgs(org_uid) as (
        select k as org_uid from changed
        where table_name = 'organizations'
          and (op <> 'update' or json_exists(changed, '$.name'))
    ),
    projects_changed(warehouse_project_id) as (
        select k as warehouse_project_id from changed where table_name = 'projects'
        union all
        select {{ _before('warehouse_project_id') }} from changed
        where table_name in ('project_locations', 'labels')
        union all
        select warehouse_project_id from {{ t.projects }}
        where org_uid in (select org_uid from snapshot_orgs where table_name = 'projects')
           or org_uid in (select org_uid from renamed_orgs)
        union all
        select warehouse_project_id from {{ t.project_locations }}
        where id in (select k from changed where table_name = 'project_locations')
           or org_uid in (select org_uid from snapshot_orgs where table_name = 'project_locations')
        union all
        select warehouse_project_id from {{ t.labels }}
        where id in (select k from changed where table_name = 'labels')
           or org_uid in (select org_uid from snapshot_orgs where table_name = 'labels')
    ),
    issuances_changed(id) as (
        select k as id from changed where table_name = 'issuances'
        union all
        select id from {{ t.issuances }}
        where org_uid in (select org_uid from snapshot_orgs where table_name = 'issuances')
           or warehouse_project_id in (select warehouse_project_id from projects_changed)
    ),
    locations_changed(id) as (
        select k as id from changed where table_name = 'project_locations'
        union all
        select id from {{ t.project_locations }}
        where org_uid in (select org_uid from snapshot_orgs where table_name = 'project_locations')
    ),
    labels_changed(id) as (
        select k as id from changed where table_name = 'labels'
        union all
        select id from {{ t.labels }}
        where org_uid in (select org_uid from snapshot_orgs where table_name = 'labels')
    ),
    units_changed(warehouse_unit_id) as (
        select k as warehouse_unit_id from changed where table_name = 'units'
        union all
        select {{ _before('warehouse_unit_id') }} from changed where table_name = 'unit_labels'
        union all
        select warehouse_unit_id from {{ t.units }}
        where org_uid in (select org_uid from snapshot_orgs where table_name = 'units')
           or org_uid in (select org_uid from renamed_orgs)
           {%- if plan.rewritten_orgs %}
           or org_uid in ({{ _rewritten_orgs(plan) }})
           {%- endif %}
           or issuance_id in (select id from issuances_changed)
           or project_location_id in (select id from locations_changed)
        union all
        select warehouse_unit_id from {{ t.unit_labels }}
        where id in (select k from changed where table_name = 'unit_labels')
           or org_uid in (select org_uid from snapshot_orgs where table_name = 'unit_labels')
           or label_id in (select id from labels_changed)
        union all
        select v.warehouse_unit_id from {{ _model('int_unit_versions') }} as v
        semi join ({{ changed_generations_sql(plan) }}) as g
            on g.changed_org_uid = v.org_uid and g.changed_generation = v.generation
    )
    select distinct warehouse_unit_id from units_changed where warehouse_unit_id is not null
{%- endmacro %}


{#- The unit records in scope, as changes_plan found them (changed_units_sql). -#}
{% macro _scope_units(plan) -%}
    select warehouse_unit_id from {{ build_state_schema() }}.unit_scopes
    where scope_key = '{{ plan.scope_key }}'
{%- endmacro %}


{#- Keys of the v1 raw table `table` (key column `key`) that the syncs wrote (the row's
    `_sync_id`: also a row written again unchanged) or that the change log names (inserts,
    updates, deletes: a deleted row is gone from the table). -#}
{% macro changed_records_sql(plan, table, key) -%}
    select {{ key }} from {{ _raw('cadt_v1', table) }}
    where _sync_id in ({{ _sync_list(plan) }})
    union all
    select record_key from {{ _raw('cadt_mirror', 'record_changes') }}
    where sync_id in ({{ _sync_list(plan) }}) and table_name = '{{ table }}' and op <> 'snapshot'
      and coalesce(catalog_version, 'v1') = 'v1'
{%- endmacro %}


{#- Issuances that changed (or arrived with an organization's first snapshot). -#}
{% macro changed_issuances_sql(plan) -%}
    select record_key as id from {{ _raw('cadt_mirror', 'record_changes') }}
    where sync_id in ({{ _sync_list(plan) }}) and table_name = 'issuances' and op <> 'snapshot'
      and coalesce(catalog_version, 'v1') = 'v1'
    union all
    select id from {{ _raw('cadt_v1', 'issuances') }}
    where org_uid in (
        select org_uid from {{ _raw('cadt_mirror', 'record_changes') }}
        where sync_id in ({{ _sync_list(plan) }}) and table_name = 'issuances' and op = 'snapshot'
          and coalesce(catalog_version, 'v1') = 'v1'
    )
{%- endmacro %}


{#- Organizations whose v2 projects the syncs inserted, updated or deleted (before and after):
    their v1 rows' is_superseded can have changed. (v2 changes are logged under org '*'.) -#}
{% macro changed_v2_project_orgs_sql(plan) -%}
    select p.org_uid from {{ _raw('cadt_v2', 'project') }} as p
    where p.cad_trust_project_id in (
        select record_key from {{ _raw('cadt_mirror', 'record_changes') }}
        where sync_id in ({{ _sync_list(plan) }}) and catalog_version = 'v2'
          and table_name = 'project' and op in ('insert', 'update'))
       or exists (
        select 1 from {{ _raw('cadt_mirror', 'record_changes') }}
        where sync_id in ({{ _sync_list(plan) }}) and catalog_version = 'v2'
          and table_name = 'project' and op = 'snapshot')
    union all
    select coalesce(json_extract_string(changed, '$.org_uid'),
                    json_extract_string(changed, '$.org_uid[0]'))
    from {{ _raw('cadt_mirror', 'record_changes') }}
    where sync_id in ({{ _sync_list(plan) }}) and catalog_version = 'v2'
      and table_name = 'project' and op in ('delete', 'update')
    union all  -- a v1 unit without a v1 organization takes its organization's v2 entry
    select record_key from {{ _raw('cadt_mirror', 'record_changes') }}
    where sync_id in ({{ _sync_list(plan) }}) and catalog_version = 'v2'
      and table_name = 'organizations' and op <> 'snapshot'
{%- endmacro %}


{#- The rows of this build's scope, as a SQL predicate over the model's columns (named in
    meta.changes; keyword arguments override them): `true` for a full refresh, `false` when
    there is nothing new. -#}
{% macro changes_scope(plan) -%}
    {%- set c = dict(model.config.meta.get('changes', {})) -%}
    {%- do c.update(kwargs) -%}
    {%- if plan.mode == 'full' -%}
        true
    {%- elif plan.mode == 'none' -%}
        false
    {%- elif c.scope == 'units' -%}
        ({{ c.unit }} in ({{ _scope_units(plan) }})
         {%- if plan.rewritten_orgs %}
         or {{ c.org }} in ({{ _rewritten_orgs(plan) }})
         {%- endif %}
         {%- if c.issuance %}
         or {{ c.issuance }} in ({{ changed_issuances_sql(plan) }})
         {%- endif %}
         {%- if c.data_model and plan.v2_changed %}
         or {{ c.data_model }} = 'v2'
         or {{ c.org }} in ({{ changed_v2_project_orgs_sql(plan) }})
         {%- endif %}
         {%- if c.data_model and plan.v1_orgs_changed %}
         or {{ c.org }} in ({{ _literals(plan.v1_orgs_changed) }})
         {%- endif %})
    {%- elif c.scope == 'generations' -%}
        (exists (select 1 from ({{ changed_generations_sql(plan) }}) as g
                 where g.changed_org_uid = {{ c.org }} and g.changed_generation = {{ c.generation }})
         {%- if plan.rewritten_orgs %}
         or {{ c.org }} in ({{ _rewritten_orgs(plan) }})
         {%- endif %})
    {%- elif c.scope == 'syncs' -%}
        {{ c.sync }} in ({{ _sync_list(plan) }})
    {%- elif c.scope == 'records' -%}
        ({{ c.key }} in ({{ changed_records_sql(plan, c.table, c.key) }})
         or {{ c.org }} in (
            select org_uid from {{ _raw('cadt_mirror', 'record_changes') }}
            where sync_id in ({{ _sync_list(plan) }}) and table_name = '{{ c.table }}'
              and op = 'snapshot' and coalesce(catalog_version, 'v1') = 'v1'))
    {%- else -%}
        {{ exceptions.raise_compiler_error(model.name ~ ': meta.changes.scope must be units, '
                                           ~ 'generations, syncs or records, not ' ~ c.scope) }}
    {%- endif -%}
{%- endmacro %}


{#- The predicate of the rows this build rewrites: its scope, and meta.changes.also. -#}
{% macro _rewritten(plan) -%}
    {%- set also = model.config.meta.get('changes', {}).get('also') -%}
    ({{ changes_scope(plan) }}){% if also and plan.mode == 'incremental' %} or ({{ also }}){% endif %}
{%- endmacro %}


{#- pre-hook: delete the rows the select will insert again (all of them for a full refresh in
    place; nothing on a first build, a --full-refresh or when there is nothing new). -#}
{% macro changes_delete() %}
    {%- if execute and is_incremental() -%}
        {%- set plan = changes_plan() -%}
        {%- if plan.mode != 'none' -%}
            delete from {{ this }} where {{ _rewritten(plan) }}
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- post-hook: record what the model took in, in its transaction. -#}
{% macro changes_consumed() %}
    {%- if execute -%}
        {%- set plan = changes_plan() -%}
        {%- set s = build_state_schema() -%}
        {%- if plan.mode != 'none' -%}
            {{ log(model.name ~ ': ' ~ plan.mode ~ ' (' ~ plan.reason ~ ')', info=true) }}
        {%- endif -%}
        {%- if plan.mode == 'full' -%}
            delete from {{ s }}.consumed_syncs where model = '{{ model.name }}';
            insert into {{ s }}.consumed_syncs (model, sync_id, consumed_at)
            select '{{ model.name }}', sync_id, now() from ({{ _eligible_syncs_sql() }});
        {%- elif plan.mode == 'incremental' -%}
            insert into {{ s }}.consumed_syncs (model, sync_id, consumed_at)
            select '{{ model.name }}', unnest([{{ _sync_list(plan) }}]), now();
        {%- endif -%}
        {%- if plan.mode != 'none' %}
            insert into {{ s }}.model_refreshes
                (model, refreshed_at, refresh, reason, syncs, rows, code_version)
            select '{{ model.name }}', now(), '{{ plan.mode }}', '{{ plan.reason }}',
                {%- if plan.mode == 'full' %}
                (select count(*) from {{ s }}.consumed_syncs where model = '{{ model.name }}'),
                {%- else %}
                {{ plan.syncs | length }},
                {%- endif %}
                (select count(*) from {{ this }} where {{ _rewritten(plan) }}),
                '{{ changes_code_version() }}'
        {%- endif -%}
    {%- endif -%}
{% endmacro %}


{#- pre-hook of mart_changes: drop the rows the retention pruned from the change log (all of them
    when the log is empty). -#}
{% macro mart_changes_prune() %}
    {%- if execute and is_incremental() -%}
        delete from {{ this }}
        where changed_at < coalesce(
            (select min(recorded_at) from {{ _raw('cadt_mirror', 'record_changes') }}),
            'infinity'::timestamptz)
    {%- endif -%}
{% endmacro %}
