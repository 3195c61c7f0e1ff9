"""`cadt-mirror changes`: which records the syncs changed, from the change log.

Every sync logs, inside each organization's commit, one row per record it inserted, updated or
deleted in `cadt_mirror.record_changes` (`pipelines/warehouse/merge.py`, `ChangeLog`): an insert
gives the key (the row is in the current table), an update `{column: [before, after]}` of the
columns that changed, a delete the row as it was, and an organization's first snapshot one
`snapshot` row per table (`{"rows": n}`). This module reads that log:

    list_changes(con, "monday", tables=["units"], ops=["update"])
    list_changes(con, "20250106T101500Z-1a2b3c4d")      # what the syncs after that one changed

and keeps it to its retention (`prune`). `--since` takes an ISO date or time (UTC unless it says
otherwise), a relative time (`90m`, `24h`, `7d`, `2w`), a weekday (`monday`: the most recent
Monday 00:00 UTC, today if it is one), `today`, `yesterday`, or a sync id (the changes of the
syncs that started after it). The same log, with statuses before and after, is the dbt model
`marts.mart_changes`.

The command reads the read-only serving copy, and falls back to the warehouse when there is no
serving copy (or it has no change log, or not the sync id asked for).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.markup import escape

from pipelines.source.catalog_v1 import V1
from pipelines.warehouse.db import WarehouseBusyError, connect, database_path
from pipelines.warehouse.publish import serving_path
from pipelines.warehouse.schema import MIRROR_SCHEMA

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
CHANGES = f"{MIRROR_SCHEMA}.record_changes"
RUNS = f"{MIRROR_SCHEMA}.sync_runs"
OPS = ("insert", "update", "delete", "snapshot")
TABLES = tuple(t.name for t in V1.tables if t.name != "audit")  # the audit is not logged
FIELDS = ("sync_id", "recorded_at", "org_uid", "table_name", "record_key", "op", "changed")
SYNC_ID = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")
RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$")
UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WIDTH = 80  # the human table fits 80 columns
DEFAULT_TABLE_LIMIT = 50


class ChangesError(ValueError):
    """A `--since`, table or warehouse the change log cannot answer for (one sentence), with the
    exit code the CLI gives it (2 for a bad argument, 1 for a missing warehouse)."""

    def __init__(self, message: str, code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Since:
    """Where a listing starts: changes recorded at or after `time`, or of the syncs that
    started after sync `sync_id`."""

    time: datetime | None = None
    sync_id: str | None = None

    def describe(self) -> str:
        if self.sync_id:
            return f"after sync {self.sync_id}"
        assert self.time is not None
        return f"since {self.time:%Y-%m-%d %H:%M} UTC"


def parse_since(text: str | datetime | date | Since, now: datetime | None = None) -> Since:
    """`--since` as a `Since`; a ChangesError (one sentence) when it is none of the forms."""
    if isinstance(text, Since):
        return text
    if isinstance(text, datetime):
        return Since(time=text if text.tzinfo else text.replace(tzinfo=UTC))
    if isinstance(text, date):
        return Since(time=datetime(text.year, text.month, text.day, tzinfo=UTC))
    now = (now or datetime.now(UTC)).astimezone(UTC)
    value = (text or "").strip()
    word = value.lower()
    if SYNC_ID.match(value):
        return Since(sync_id=value)
    if m := RELATIVE.match(word):
        return Since(time=now - timedelta(seconds=float(m.group(1)) * UNITS[m.group(2)]))
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if word in ("today", "yesterday"):
        return Since(time=midnight - timedelta(days=word == "yesterday"))
    if word in WEEKDAYS or (word[:3] in {d[:3] for d in WEEKDAYS} and len(word) == 3):
        day = next(i for i, d in enumerate(WEEKDAYS) if d.startswith(word))
        return Since(time=midnight - timedelta(days=(now.weekday() - day) % 7))
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise ChangesError(
            f"--since {value!r} is not a date or time (2025-01-06, 2025-01-06T10:00Z), a "
            "relative time (90m, 24h, 7d, 2w), a weekday (monday), today, yesterday or a sync "
            "id (20250106T101500Z-1a2b3c4d)") from None
    return Since(time=parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC))


def list_changes(
    con: duckdb.DuckDBPyConnection,
    since: str | datetime | date | Since,
    tables: Iterable[str] | None = None,
    ops: Iterable[str] | None = None,
    org: str | None = None,
    *,
    columns: Iterable[str] | None = None,
    limit: int | None = None,
) -> list[dict[str, Any]]:
    """The logged changes `since` (see `parse_since`), oldest first, as dicts with the log's
    columns (`FIELDS`): `recorded_at` a UTC datetime, `changed` parsed from its JSON (None for
    an insert). `tables`, `ops` and `org` filter; `columns`: only updates that changed one of
    them; `limit`: at most that many. A ChangesError for a bad `since`, table or op, or a sync
    id the warehouse does not know."""
    start = parse_since(since)
    where, params = _filters(con, start, tables, ops, org, columns)
    sql = (f"SELECT {', '.join(FIELDS)} FROM {CHANGES} WHERE {' AND '.join(where)} "
           "ORDER BY recorded_at, sync_id, org_uid, table_name, record_key")
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    out = []
    for row in con.execute(sql, params).fetchall():
        item = dict(zip(FIELDS, row, strict=True))
        item["recorded_at"] = item["recorded_at"].astimezone(UTC)
        item["changed"] = None if item["changed"] is None else json.loads(item["changed"])
        out.append(item)
    return out


def count_changes(con: duckdb.DuckDBPyConnection, since: str | datetime | date | Since,
                  tables: Iterable[str] | None = None, ops: Iterable[str] | None = None,
                  org: str | None = None, *, columns: Iterable[str] | None = None) -> int:
    """How many rows `list_changes` would return without a limit."""
    where, params = _filters(con, parse_since(since), tables, ops, org, columns)
    return con.execute(f"SELECT count(*) FROM {CHANGES} WHERE {' AND '.join(where)}",
                       params).fetchone()[0]


def _filters(con: duckdb.DuckDBPyConnection, start: Since, tables: Iterable[str] | None,
             ops: Iterable[str] | None, org: str | None,
             columns: Iterable[str] | None) -> tuple[list[str], list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    if start.sync_id:
        started = con.execute(f"SELECT started_at FROM {RUNS} WHERE sync_id = ?",
                              [start.sync_id]).fetchall()
        if not started:
            raise ChangesError(f"--since {start.sync_id}: this warehouse has no sync with that "
                               f"id (cadt_mirror.sync_runs lists them)")
        where.append(f"sync_id IN (SELECT sync_id FROM {RUNS} WHERE started_at > ?)")
        params.append(started[0][0])
    else:
        where.append("recorded_at >= ?")
        params.append(start.time)
    for name, values, allowed in (("table_name", tables, TABLES), ("op", ops, OPS)):
        chosen = sorted(set(values or ()))
        unknown = [v for v in chosen if v not in allowed]
        if unknown:
            flag = "--table" if name == "table_name" else "--op"
            raise ChangesError(f"{flag} {unknown[0]!r} is not one of {', '.join(allowed)}")
        if chosen:
            where.append(f"{name} IN ({', '.join('?' * len(chosen))})")
            params.extend(chosen)
    if org:
        where.append("org_uid = ?")
        params.append(org)
    wanted = sorted(set(columns or ()))
    if wanted:
        where.append("op = 'update' AND (" + " OR ".join(
            "json_exists(changed, ?)" for _ in wanted) + ")")
        params.extend(f"$.{json.dumps(c)}" for c in wanted)
    return where, params


def prune(con: duckdb.DuckDBPyConnection, keep_days: float) -> int:
    """Delete the change-log rows (`cadt_mirror.record_changes`) recorded more than `keep_days`
    days ago; return how many were deleted.

    The sync calls it at the start of each run on its write connection, with the setting
    CADT_CHANGES_KEEP_DAYS (default 90), after `ensure_schema` and outside any organization's
    transaction (it is one DELETE, atomic on its own). `keep_days` is a number of days >= 0
    (fractions allowed; 0 keeps nothing recorded before now); anything else is a ValueError.
    Only the per-record log is pruned: `cadt_mirror.sync_changes` keeps every sync's counts.

    The dbt marts read the log: `marts.mart_changes` drops the pruned rows at its next build,
    and an incremental model that had not yet consumed a pruned sync (no `cadt-mirror build`
    for longer than the retention) finds the gap (sync_changes counts without log rows) and
    rebuilds in full: correct, only slower. So keep the retention longer than the longest
    time between two builds.
    """
    if (isinstance(keep_days, bool) or not isinstance(keep_days, int | float)
            or not math.isfinite(keep_days) or keep_days < 0):
        raise ValueError(f"keep_days must be a number of days >= 0, not {keep_days!r}")
    cutoff = datetime.now(UTC) - timedelta(days=keep_days)
    return con.execute(f"DELETE FROM {CHANGES} WHERE recorded_at < ?", [cutoff]).fetchone()[0]


# -- the command ----------------------------------------------------------------------------


def open_changes_db(database: str | Path | None = None, since: Since | None = None
                    ) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A read-only connection to the serving copy, else to the warehouse, that has the change
    log (and knows the sync id `since` names, if it names one)."""
    db = database_path(database)
    if not db.exists() and not serving_path(db).exists():
        raise ChangesError(f"no warehouse at {db} yet: run `cadt-mirror sync` first", EXIT_FAILED)
    reasons = []
    busy: WarehouseBusyError | None = None
    for path in (serving_path(db), db):
        if not path.exists():
            continue
        try:
            con = connect(path, read_only=True)
        except WarehouseBusyError as e:
            busy = e
            continue
        except duckdb.Error as e:
            reasons.append(f"{path} cannot be read ({str(e).splitlines()[0]})")
            continue
        if not _has_log(con):
            reasons.append(f"{path} has no change log (cadt_mirror.record_changes)")
        elif since is not None and since.sync_id and not con.execute(
                f"SELECT count(*) FROM {RUNS} WHERE sync_id = ?", [since.sync_id]).fetchone()[0]:
            reasons.append(f"--since {since.sync_id}: no sync with that id in {path}")
        else:
            return con, path
        con.close()
    if busy is not None and not reasons:
        raise busy
    unknown_sync = since is not None and since.sync_id and any("no sync" in r for r in reasons)
    if unknown_sync:
        raise ChangesError(f"--since {since.sync_id}: no sync with that id in {db} "
                           "(cadt_mirror.sync_runs lists them)")
    raise ChangesError("; ".join(reasons) + "; run `cadt-mirror sync` to start it", EXIT_FAILED)


def _has_log(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name IN "
        "('record_changes', 'sync_runs')", [MIRROR_SCHEMA]).fetchone()[0] == 2)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `changes` subcommand's options (the caller adds --database)."""
    parser.add_argument("--since", required=True, metavar="TIME|SYNC_ID",
                        help="an ISO date or time (UTC unless given), 90m / 24h / 7d / 2w, a "
                             "weekday (monday: the last Monday 00:00 UTC), today, yesterday, or "
                             "a sync id (the changes of the syncs after it)")
    parser.add_argument("--table", action="append", metavar="TABLE",
                        help="only this table (repeatable): " + ", ".join(TABLES))
    parser.add_argument("--op", action="append", choices=OPS,
                        help="only this operation (repeatable)")
    parser.add_argument("--org", metavar="ORG_UID", help="only this organization (full orgUid)")
    parser.add_argument("--column", action="append", metavar="COLUMN",
                        help="only updates that changed this column (repeatable), e.g. "
                             "unit_status")
    parser.add_argument("--format", choices=("table", "jsonl", "csv"), default="table",
                        help="table (80 columns, for people), jsonl or csv (one change a line, "
                             "`changed` as JSON)")
    parser.add_argument("--limit", type=_limit, metavar="N",
                        help=f"at most N changes, oldest first (default: all; {DEFAULT_TABLE_LIMIT} "
                             "for --format table)")


def _limit(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        n = -1
    if n < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number >= 1")
    return n


def cmd_changes(args: argparse.Namespace, console: Console) -> int:
    errors = Console(stderr=True, soft_wrap=True)
    try:
        since = parse_since(args.since)
        con, path = open_changes_db(args.database, since)
    except ChangesError as e:
        errors.print(f"[red]error:[/red] {escape(str(e))}")
        return e.code
    limit = args.limit or (DEFAULT_TABLE_LIMIT if args.format == "table" else None)
    filters = {"tables": args.table, "ops": args.op, "org": args.org, "columns": args.column}
    try:
        rows = list_changes(con, since, limit=limit, **filters)
        total = count_changes(con, since, **filters) if limit and len(rows) == limit else len(rows)
    except ChangesError as e:
        errors.print(f"[red]error:[/red] {escape(str(e))}")
        return e.code
    finally:
        con.close()
    out = sys.stdout
    if args.format == "jsonl":
        for r in rows:
            out.write(json.dumps(_jsonable(r), ensure_ascii=False, separators=(",", ":")) + "\n")
    elif args.format == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(FIELDS)
        for r in rows:
            item = _jsonable(r)
            item["changed"] = (None if r["changed"] is None else
                               json.dumps(r["changed"], ensure_ascii=False, separators=(",", ":")))
            writer.writerow(["" if item[f] is None else item[f] for f in FIELDS])
    else:
        out.write("\n".join(render_table(rows, since, path, total)) + "\n")
    return EXIT_OK


def _jsonable(row: dict[str, Any]) -> dict[str, Any]:
    item = dict(row)
    item["recorded_at"] = row["recorded_at"].isoformat().replace("+00:00", "Z")
    return item


def render_table(rows: Sequence[dict[str, Any]], since: Since, path: Path, total: int
                 ) -> list[str]:
    """The listing for people: a line per change (time, table, op, key) and one with what
    changed, every line at most 80 columns."""
    lines = [_fit(f"{total} change(s) {since.describe()} in {path}")]
    sync = None
    for r in rows:
        if r["sync_id"] != sync:
            sync = r["sync_id"]
            lines.append(f"sync {sync}")
        key = (r["record_key"] or "").replace("\x1f", "/")
        lines.append(_fit(f"  {r['recorded_at']:%m-%d %H:%M} {r['table_name']:<17} "
                          f"{r['op']:<8} {key}"))
        detail = _detail(r)
        if detail:
            lines.append(_fit("      " + detail))
    if total > len(rows):
        lines.append(f"... {total - len(rows)} more: raise --limit, or use --format jsonl")
    return lines


def _detail(r: dict[str, Any], width: int = WIDTH - 6) -> str:
    changed = r["changed"]
    if r["op"] == "update" and isinstance(changed, dict):
        for size in (20, 12, 8):  # the widest values with which every column fits, if any
            parts = [f"{c}: {_short(v[0], size)} → {_short(v[1], size)}"
                     if isinstance(v, list) and len(v) == 2 else f"{c}: {_short(v, size)}"
                     for c, v in changed.items()]
            if len("; ".join(parts)) <= width:
                break
        return _join(parts, "; ", width)
    if r["op"] == "delete" and isinstance(changed, dict):
        return "was " + _join([f"{c}={_short(v)}" for c, v in changed.items()
                               if v is not None and c != "_extra"], ", ", width - 4)
    if r["op"] == "snapshot" and isinstance(changed, dict):
        return f"first snapshot of the organization: {changed.get('rows')} row(s)"
    return ""


def _join(parts: list[str], sep: str, width: int) -> str:
    """As many whole parts as fit in `width` with a note of how many were left out."""
    out: list[str] = []
    for i, part in enumerate(parts):
        left = len(parts) - i - 1
        note = f"{sep}(+{left} more)" if left else ""
        if len(sep.join([*out, part]) + note) > width:
            if not out:  # not even the first: cut it
                return _short(part, width - len(f"{sep}(+{left + 1} more)")) + (
                    f"{sep}(+{left} more)" if left else "")
            return sep.join(out) + f"{sep}(+{left + 1} more)"
        out.append(part)
    return sep.join(out)


def _short(value: Any, width: int = 20) -> str:
    text = "null" if value is None else value if isinstance(value, str) else json.dumps(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _fit(line: str) -> str:
    return line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"
