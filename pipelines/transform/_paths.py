"""Where the dbt project lives, relative to this package (no environment reads)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"
DEFAULT_DATABASE = REPO_ROOT / "data" / "cadt.duckdb"
