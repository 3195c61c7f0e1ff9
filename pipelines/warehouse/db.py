"""Opening the warehouse: one writer at a time, UTC everywhere, clear errors on lock conflicts."""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

DEFAULT_DB = "data/cadt.duckdb"


class WarehouseBusyError(RuntimeError):
    """Another process holds the DuckDB file (usually a sync already running)."""


def database_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path`, else $CADT_MIRROR_DB, else data/cadt.duckdb."""
    return Path(path or os.environ.get("CADT_MIRROR_DB") or DEFAULT_DB)


def connect(path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. A second writer fails fast with WarehouseBusyError (DuckDB allows one
    process to write a file; readers should use `read_only=True` between syncs)."""
    db = database_path(path)
    if not read_only:
        db.parent.mkdir(parents=True, exist_ok=True)
    try:
        con = duckdb.connect(str(db), read_only=read_only)
    except duckdb.IOException as e:
        msg = str(e)
        if "lock" in msg.lower():
            pid = re.search(r"PID (\d+)", msg)
            who = f" (process {pid.group(1)})" if pid else ""
            raise WarehouseBusyError(
                f"the warehouse {db} is in use by another process{who}; "
                "wait for the running sync to finish, or point CADT_MIRROR_DB elsewhere"
            ) from None
        raise
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB would take 80% of RAM by default; a sync streams and needs far less. Larger
    # intermediate results spill to <warehouse>.tmp/.
    con.execute(f"SET memory_limit = '{os.environ.get('CADT_MIRROR_MEMORY_LIMIT', '384MB')}'")
    if not read_only:
        con.execute(f"SET temp_directory = '{db.with_name(db.name + '.tmp')}'")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con
