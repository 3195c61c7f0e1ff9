"""The DuckDB warehouse: DDL, landing of raw pages, per-org merges, sync state and run records."""
