"""How the Dagster definitions are operated: one writer, retries, freshness, automation.

One place for the knobs every module shares, so the raw assets, the dbt assets and the serving
copy cannot disagree about them.
"""

from datetime import timedelta

import dagster as dg

POOL = "cadt_warehouse"
"""Claimed by every step that writes the DuckDB file; dagster.yaml gives the pool one slot
(DuckDB lets one process write a file, so a second writer would fail with WarehouseBusyError)."""

WAREHOUSE_TAG = "cadt_mirror/warehouse"
RUN_TAGS = {WAREHOUSE_TAG: "write"}
"""On every run our jobs, sensors and automation launch; dagster.yaml queues runs with this tag
one at a time, so two runs never even start side by side."""

SYNC_RETRY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL,
                            jitter=dg.Jitter.PLUS_MINUS)
"""For a node that stays unreachable beyond the client's own retries (8 per request, seconds
apart): the sync step is tried again after ~1, 2 and 4 minutes. Failures that retrying cannot
fix (bad settings, a refused key, a node's error answer, a failing check) raise
`Failure(allow_retries=False)` and skip it."""

# As the dbt source freshness (dbt_project.yml vars): a sync is expected at least daily.
FRESHNESS = dg.FreshnessPolicy.time_window(fail_window=timedelta(hours=96),
                                           warn_window=timedelta(hours=36))


def after_upstream() -> dg.AutomationCondition:
    """Refresh when anything upstream was refreshed, never right on top of a failed blocking
    check: the raw assets are materialized even when a gate fails, so what reads them directly
    (the staging models, the serving copy, which reads every table) waits for a passing sync."""
    return (dg.AutomationCondition.eager()
            & dg.AutomationCondition.all_deps_blocking_checks_passed()
            ).with_label("eager, upstream gates passed")
