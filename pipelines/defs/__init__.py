"""Dagster definitions, one module per concern (resources, raw assets, jobs and schedules)."""
