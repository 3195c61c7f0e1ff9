"""A digest of everything a dbt build's result depends on besides the warehouse's data: the
project's files (models, macros, seeds, tests, selectors, profiles) and the dbt versions.

`cadt-mirror build` records it with each build, so that a later build can tell that neither the
raw tables nor the project changed since the marts were built, and skip dbt (see
`pipelines/dbt_build.py`).
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path

from ._paths import DBT_PROJECT_DIR

# dbt's own output and installed packages, not the project
_SKIPPED = frozenset({"target", "logs", "dbt_packages"})
_PACKAGES = ("dbt-core", "dbt-duckdb", "duckdb")


def project_digest(project_dir: Path = DBT_PROJECT_DIR) -> str:
    """sha256 over the project's files (relative path and bytes, in path order) and the
    versions of dbt, its DuckDB adapter and DuckDB."""
    h = hashlib.sha256()
    for name in _PACKAGES:
        h.update(f"{name}=={_version(name)}\n".encode())
    tops = [p for p in project_dir.iterdir() if p.name not in _SKIPPED]
    files = sorted(f for top in tops for f in ([top] if top.is_file() else top.rglob("*"))
                   if f.is_file() and not f.name.startswith("."))
    for path in files:
        rel = path.relative_to(project_dir).as_posix()
        data = path.read_bytes()
        h.update(f"{rel}\0{len(data)}\0".encode())
        h.update(data)
    return h.hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "absent"
