"""Dagster definitions, one module per concern; `pipelines.definitions` assembles them.

- `resources`: the CADT node and the warehouse, settings from the environment as in the CLI.
- `raw_assets`: the sync as one multi-asset over the raw tables, with `gates` (asset checks that
  decide whether anything may be built on or published from a sync) and `node` (the node's own
  counts and organization map).
- `serving`: the BI copy, published last. `jobs`: the sync and refresh jobs, the schedule.
- `sensors`: the registry-hash sensor and the automation sensor. `policies`: pool, run tags,
  retries, freshness and automation conditions shared by all of them.
"""
