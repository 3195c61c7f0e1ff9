"""Opening the warehouse: one writer at a time, UTC everywhere, one clear sentence per problem.

Every way a warehouse path can be wrong (a directory, a read-only place, a file that is not
DuckDB, a DuckDB file of something else) is reported as a `WarehousePathError` naming the path
and what to do, instead of DuckDB's own error or a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import duckdb

from pipelines.config import SettingError, memory_limit

DEFAULT_DB = "data/cadt.duckdb"
DEFAULT_MEMORY_LIMIT = "256MB"  # a sync's peak RSS ≈ 350 MiB + this (docs/benchmarks.md §5)
MARKER_TABLE = ("cadt_mirror", "sync_runs")  # a file holding it is a mirror warehouse


ZSTD_MIN_STRING_LENGTH = 256  # bytes, average per column segment (DuckDB's default: 4096)


class WarehouseBusyError(RuntimeError):
    """Another process holds the DuckDB file (usually a sync already running)."""


class WarehousePathError(SettingError):
    """The warehouse path cannot be used as a warehouse (CLI exit code 2)."""


def database_path(path: str | os.PathLike[str] | None = None) -> Path:
    """`path`, else $CADT_MIRROR_DB, else data/cadt.duckdb."""
    return Path(path or os.environ.get("CADT_MIRROR_DB") or DEFAULT_DB)


def memory_limit_setting() -> str:
    """$CADT_MIRROR_MEMORY_LIMIT, validated (it ends up in SQL), else 256MB."""
    value = os.environ.get("CADT_MIRROR_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    return memory_limit("CADT_MIRROR_MEMORY_LIMIT", value)


def connect(path: str | os.PathLike[str] | None = None, *, read_only: bool = False,
            threads: int | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse. A second writer fails fast with WarehouseBusyError (DuckDB allows one
    process to write a file; readers should use `read_only=True` between syncs)."""
    db = database_path(path)
    limit = memory_limit_setting()  # before anything is created
    _check_path(db, read_only)
    try:
        con = duckdb.connect(str(db), read_only=read_only)
    except duckdb.IOException as e:
        raise _open_error(db, str(e)) from None
    con.execute("SET TimeZone = 'UTC'")
    # DuckDB would take 80% of RAM by default; a sync streams and needs far less. Larger
    # intermediate results spill to <warehouse>.tmp/.
    con.execute(f"SET memory_limit = '{limit}'")
    if not read_only:
        tmp = str(db.with_name(db.name + ".tmp")).replace("'", "''")
        con.execute(f"SET temp_directory = '{tmp}'")
        # DuckDB weighs zstd only for text averaging 4 KB or more, so the audit feeds' `change`
        # values (whole records as JSON, under 1 KB each, most of a warehouse's bytes) stayed
        # uncompressed: ~1 GB at a million units. From 256 bytes it picks zstd where zstd wins.
        con.execute(f"SET zstd_min_string_length = {ZSTD_MIN_STRING_LENGTH}")
    if threads:
        con.execute(f"SET threads = {int(threads)}")
    return con


def _check_path(db: Path, read_only: bool) -> None:
    if db.is_dir():
        raise WarehousePathError(f"the warehouse path {db} is a directory; give a file path "
                                 f"such as {db / 'cadt.duckdb'}")
    if read_only:
        return
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise WarehousePathError(f"cannot create the directory {db.parent} for the warehouse "
                                 f"{db}: {e.strerror or e}; choose a writable place") from None
    if not os.access(db.parent, os.W_OK):
        raise _read_only(db, f"{db.parent} is a read-only place")
    if db.exists() and not os.access(db, os.W_OK):
        raise _read_only(db, "the file is read-only")


def _read_only(db: Path, why: str) -> WarehousePathError:
    return WarehousePathError(f"cannot write the warehouse {db}: {why}; choose a writable path "
                              "with --database or CADT_MIRROR_DB")


def _open_error(db: Path, msg: str) -> Exception:
    """DuckDB's IOException as the sentence a user needs."""
    low = msg.lower()
    if "lock" in low:
        pid = re.search(r"PID (\d+)", msg)
        who = f" (process {pid.group(1)})" if pid else ""
        return WarehouseBusyError(
            f"the warehouse {db} is in use by another process{who}; "
            "wait for the running sync to finish, or point CADT_MIRROR_DB elsewhere")
    if "not a valid duckdb database file" in low:
        return WarehousePathError(f"{db} is not a DuckDB database file; point --database or "
                                  "CADT_MIRROR_DB at a new path or at an existing warehouse")
    if "permission denied" in low or "read-only file system" in low:
        return _read_only(db, f"{db.parent} is a read-only place")
    if "database does not exist" in low:
        return WarehousePathError(f"there is no warehouse at {db} yet; run `cadt-mirror sync` "
                                  "first")
    return WarehousePathError(f"cannot open the warehouse {db}: {msg}")


def ensure_mirror(con: duckdb.DuckDBPyConnection, db: Path) -> None:
    """Refuse a DuckDB file that holds tables but is not a mirror warehouse (we would add our
    schemas to someone else's database, and dbt would build marts in it)."""
    schema, table = MARKER_TABLE
    found = con.execute(
        "SELECT count(*) FILTER (WHERE table_schema = ? AND table_name = ?), count(*) "
        "FROM information_schema.tables WHERE table_catalog = current_database()",
        [schema, table]).fetchall()[0]
    if found[1] and not found[0]:
        raise WarehousePathError(
            f"{db} is a DuckDB database but not a CADT Mirror warehouse (it has tables and no "
            f"{schema}.{table}); point --database or CADT_MIRROR_DB at a new path or at a "
            "warehouse made by cadt-mirror")
