"""`cadt-mirror search`: projects and unit blocks across every organization, ranked.

The query itself lives in the warehouse, as the table macro `marts.search` that `dbt build`
creates (dbt_project/macros/search.sql) over `marts.search_index`; this module only opens the
warehouse and calls it, so a BI tool running

    select * from marts.search('nandu reforestacion', country := 'PER');

gets the same rows as `cadt-mirror search "nandu reforestacion" --country PER`. Matching is
accent- and case-insensitive (words within one edit of a project name's words match too);
`--serial` finds the unit blocks containing a serial (or overlapping a block "<first>-<last>").

It reads the read-only serving copy, and falls back to the warehouse when there is no serving
copy (or it predates the search macro).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.table import Table as RichTable

from pipelines.warehouse.db import WarehouseBusyError, connect, database_path
from pipelines.warehouse.publish import serving_path

EXIT_OK, EXIT_FAILED = 0, 1
FILTERS = ("country", "registry", "developer", "methodology", "serial")
_SQL = (
    "SELECT * FROM marts.search(?, country := ?, registry := ?, developer := ?, "
    "methodology := ?, serial := ?, max_results := ?)"
)


class SearchUnavailableError(RuntimeError):
    """No readable warehouse with the search macro (run `cadt-mirror build` first)."""


def search(
    con: duckdb.DuckDBPyConnection,
    text: str | None = None,
    *,
    country: str | None = None,
    registry: str | None = None,
    developer: str | None = None,
    methodology: str | None = None,
    serial: str | None = None,
    limit: int = 20,
) -> list[dict[str, Any]]:
    """Rows of `marts.search(...)`, best first, as dicts (rank, score, doc_type, doc_id, title, ...)."""
    cur = con.execute(_SQL, [text, country, registry, developer, methodology, serial, int(limit)])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def open_search_db(database: str | Path | None = None) -> tuple[duckdb.DuckDBPyConnection, Path]:
    """A read-only connection to the serving copy, else to the warehouse, that has the macro."""
    db = database_path(database)
    reasons = []
    for path in (serving_path(db), db):
        if not path.exists():
            reasons.append(f"{path}: not found")
            continue
        try:
            con = connect(path, read_only=True)
        except WarehouseBusyError as e:
            reasons.append(str(e))
            continue
        if _has_search_macro(con):
            return con, path
        con.close()
        reasons.append(f"{path}: no marts.search macro")
    raise SearchUnavailableError(
        "nothing to search: " + "; ".join(reasons) + ". Run `cadt-mirror build` first."
    )


def _has_search_macro(con: duckdb.DuckDBPyConnection) -> bool:
    return bool(con.execute(
        "SELECT count(*) FROM duckdb_functions() "
        "WHERE schema_name = 'marts' AND function_name = 'search'"
    ).fetchone()[0])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `search` subcommand's options (the caller adds --database)."""
    parser.add_argument("text", nargs="?", help="words to find (any case, accents optional)")
    parser.add_argument("--country", help="host country: ISO code or name")
    parser.add_argument("--registry", help="registry, e.g. Verra, VCS, 'Gold Standard'")
    parser.add_argument("--developer", help="project developer (legal forms like Ltd ignored)")
    parser.add_argument("--methodology", help="methodology, or a part of it (e.g. AMS-III)")
    parser.add_argument("--serial", metavar="BLOCK",
                        help="a serial number, or a block FIRST-LAST: the unit blocks holding it")
    parser.add_argument("--limit", type=int, default=20, help="at most N results (default 20)")
    parser.add_argument("--format", choices=("table", "json"), default="table")


def cmd_search(args: argparse.Namespace, console: Console) -> int:
    errors = Console(stderr=True, soft_wrap=True)
    filters = {name: getattr(args, name) for name in FILTERS}
    if not (args.text and args.text.strip()) and not any(filters.values()):
        errors.print("[red]error:[/red] give words to search for, or at least one filter")
        return EXIT_FAILED
    try:
        con, path = open_search_db(args.database)
    except SearchUnavailableError as e:
        errors.print(f"[red]error:[/red] {e}")
        return EXIT_FAILED
    try:
        rows = search(con, args.text, limit=args.limit, **filters)
    finally:
        con.close()
    if args.format == "json":
        sys.stdout.write(json.dumps(rows, default=str, ensure_ascii=False, indent=2) + "\n")
    elif rows:
        console.print(_table(rows, path))
    else:
        errors.print("no matches")
    return EXIT_OK


def _table(rows: list[dict[str, Any]], path: Path) -> RichTable:
    table = RichTable(title=f"{len(rows)} result(s) from {path}", title_justify="left")
    for col in ("#", "type", "title", "registry", "registry id", "country", "developer",
                "vintage", "status", "credits"):
        table.add_column(col, justify="right" if col in ("#", "vintage", "credits") else "left")
    for r in rows:
        table.add_row(
            str(r["rank"]), r["doc_type"], r["title"] or "", r["registry"] or "",
            r["registry_project_id"] or "", r["country_iso3_list"] or "", r["developer"] or "",
            "" if r["vintage_year"] is None else str(r["vintage_year"]), r["unit_status"] or "",
            "" if r["quantity"] is None else f"{r['quantity']:,}",
        )
    return table
