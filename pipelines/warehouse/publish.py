"""Publish a read-only serving copy of the warehouse for BI tools and ad-hoc readers.

DuckDB lets one process write a file, or many processes read it, never both: a dashboard holding
the warehouse open would block the next sync, and a sync would lock the dashboard out. So after
every successful sync (and dbt build) the warehouse is checkpointed and copied to a serving file
under a temporary name, then renamed over the previous one. Readers open the serving file with
`read_only=True`; a rename never disturbs a reader that already has the old file open.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb

from pipelines.warehouse.db import connect


def serving_path(database: Path) -> Path:
    """$CADT_MIRROR_SERVING_DB, else `<warehouse>.serving.duckdb` next to the warehouse."""
    env = os.environ.get("CADT_MIRROR_SERVING_DB")
    if env:
        return Path(env)
    return database.with_name(database.stem + ".serving" + (database.suffix or ".duckdb"))


def publish(con: duckdb.DuckDBPyConnection, database: Path, target: Path | None = None) -> Path:
    """Checkpoint the open warehouse and atomically replace the serving copy (`target`, else
    serving_path(database)) with it."""
    target = Path(target) if target is not None else serving_path(Path(database))
    con.execute("CHECKPOINT")
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(database, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def publish_file(database: Path, target: Path | None = None) -> Path:
    """`publish` for a caller that does not hold the warehouse open (CLI build, Dagster)."""
    con = connect(database)
    try:
        return publish(con, database, target)
    finally:
        con.close()
