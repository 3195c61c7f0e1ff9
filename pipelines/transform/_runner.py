"""Run the dbt CLI over a warehouse file: one function, used by the CLI, Dagster and tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from ._paths import DBT_PROJECT_DIR


def dbt_executable() -> str:
    """The `dbt` next to the running interpreter (the project venv), else the one on PATH."""
    candidate = Path(sys.executable).with_name("dbt")
    return str(candidate) if candidate.exists() else "dbt"


def dbt_env(database: str | os.PathLike[str]) -> dict[str, str]:
    """Environment for a dbt process: CADT_MIRROR_DB as an absolute path, no usage tracking."""
    env = dict(os.environ)
    env["CADT_MIRROR_DB"] = str(Path(database).expanduser().resolve())
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    return env


def dbt_args(args: Sequence[str], target_path: str | os.PathLike[str] | None = None) -> list[str]:
    """`args` with the project and profiles directories appended (both are dbt_project/).

    `target_path` moves dbt's target/ (manifest, compiled SQL) and logs elsewhere, so that
    concurrent runs (tests, several warehouses) do not share dbt_project/target.
    """
    extra = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if target_path is not None:
        target = Path(target_path).resolve()
        extra += ["--target-path", str(target), "--log-path", str(target / "logs")]
    return [*args, *extra]


def run_dbt(
    args: Sequence[str],
    database: str | os.PathLike[str],
    *,
    capture: bool = False,
    target_path: str | os.PathLike[str] | None = None,
) -> int:
    """Run `dbt <args>` against the DuckDB file `database`; return dbt's exit code.

    dbt exits 0 on success, 1 when a model or test failed, 2 on an error before running.
    With `capture=True` the output is collected and printed only when dbt fails.
    `target_path`: see `dbt_args`.
    """
    cmd = [dbt_executable(), *dbt_args(args, target_path)]
    if not capture:
        return subprocess.run(cmd, env=dbt_env(database), check=False).returncode
    proc = subprocess.run(cmd, env=dbt_env(database), check=False, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stdout.write(proc.stdout)
        sys.stderr.write(proc.stderr)
    return proc.returncode


def build(
    database: str | os.PathLike[str],
    *,
    select: str | None = None,
    full_refresh: bool = False,
    target_path: str | os.PathLike[str] | None = None,
) -> int:
    """`dbt build` (seeds, models, tests) over `database`; non-zero when anything failed.

    The unit-level models are incremental (dbt_project/macros/incremental.sql): a build
    refreshes only what the syncs since the last build changed. `full_refresh=True` rebuilds
    them from scratch (dbt's `--full-refresh`; the same marts, row for row)."""
    args = ["build"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    return run_dbt(args, database, target_path=target_path)
