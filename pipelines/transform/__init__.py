"""The dbt layer over the mirrored warehouse: staging, intermediate and marts.

Public surface (the CLI and the Dagster definitions use only these):

- `run_dbt(args, database) -> int`: run any dbt command over a DuckDB file.
- `build(database, select=None) -> int`: `dbt build` (non-zero exit when a model or test fails).
- `DBT_PROJECT_DIR`: the dbt project (also its profiles directory).
- `pipelines.transform.dbt_assets`: the dagster-dbt assets, translator and resource factory
  (imported separately so that importing this package does not load Dagster).
"""

from ._paths import DBT_PROJECT_DIR, DEFAULT_DATABASE
from ._runner import build, dbt_env, run_dbt

__all__ = ["DBT_PROJECT_DIR", "DEFAULT_DATABASE", "build", "dbt_env", "run_dbt"]
