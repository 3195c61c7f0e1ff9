"""`cadt-mirror`: sync, inspect and transform a local CADT warehouse.

    cadt-mirror sync     incremental sync (--full-refresh, --org, --api-url, --database)
    cadt-mirror status   per-organization generation, hash, last sync, row counts, lag
    cadt-mirror build    dbt build of the marts over the warehouse
    cadt-mirror demo     start the bundled CADT simulator, sync, change, sync, build, summarise

Environment: CADT_API_URL (default: the public observer), CADT_API_KEY, CADT_MIRROR_DB
(default data/cadt.duckdb), CADT_CONCURRENCY.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table as RichTable

from pipelines.progress import RichProgress
from pipelines.sync import SyncReport, SyncSettings, run_sync
from pipelines.warehouse.db import WarehouseBusyError, connect, database_path
from pipelines.warehouse.publish import publish_file, serving_path

EXIT_OK, EXIT_FAILED, EXIT_BUSY = 0, 1, 3


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING if not args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s")
    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough for the summary table
        console = Console(width=max(console.width, 140))
    errors = Console(stderr=True, soft_wrap=True)
    try:
        return int(args.func(args, console) or 0)
    except WarehouseBusyError as e:
        errors.print(f"[red]error:[/red] {e}")
        return EXIT_BUSY
    except KeyboardInterrupt:
        errors.print("[yellow]interrupted: the warehouse keeps its last committed state[/yellow]")
        return 130


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadt-mirror", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log retries and progress")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    s = sub.add_parser("sync", help="bring the warehouse up to date with the CADT node")
    _common(s)
    s.add_argument("--api-url", help="CADT node URL (env CADT_API_URL; /api and /v1 optional)")
    s.add_argument("--full-refresh", action="store_true",
                   help="re-read every organization completely instead of replaying changes")
    s.add_argument("--org", action="append", default=[], metavar="ORG_UID",
                   help="only this organization (repeatable)")
    s.add_argument("--concurrency", type=int, help="parallel requests (default 4)")
    s.add_argument("--retries", type=int, help="retries per request before giving up (default 8)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_sync)

    s = sub.add_parser("status", help="what the warehouse holds, per organization")
    _common(s)
    s.set_defaults(func=cmd_status)

    s = sub.add_parser("build", help="dbt build: staging, intermediate and mart models + tests")
    _common(s)
    s.add_argument("dbt_args", nargs=argparse.REMAINDER, help="extra arguments for dbt build")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("demo", help="end to end on the bundled CADT simulator (no internet)")
    s.add_argument("--database", help="warehouse file (default data/demo.duckdb)")
    s.add_argument("--scale", type=float, default=2, help="simulator scale (1 ≈ 20 projects, "
                   "1,000 unit records)")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--no-build", action="store_true", help="skip dbt build")
    s.set_defaults(func=cmd_demo)
    return p


def _common(s: argparse.ArgumentParser) -> None:
    s.add_argument("--database", help="DuckDB warehouse file (env CADT_MIRROR_DB)")


def _settings(args: argparse.Namespace) -> SyncSettings:
    return SyncSettings.from_env(
        api_url=getattr(args, "api_url", None),
        database=args.database,
        full_refresh=getattr(args, "full_refresh", False),
        orgs=tuple(getattr(args, "org", []) or ()),
        concurrency=getattr(args, "concurrency", None),
        max_retries=getattr(args, "retries", None),
    )


def cmd_sync(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    console.print(f"syncing [bold]{settings.api_url}[/bold] into {settings.database}")
    report = _run(settings, console, quiet=args.quiet)
    print_report(report, console)
    return EXIT_OK if report.status == "success" else EXIT_FAILED


def _run(settings: SyncSettings, console: Console, quiet: bool = False) -> SyncReport:
    if quiet or not console.is_terminal:
        return run_sync(settings)
    with RichProgress(console) as progress:
        return run_sync(settings, progress)


def print_report(report: SyncReport, console: Console) -> None:
    table = RichTable(title=f"sync {report.sync_id}: {report.status}", title_justify="left")
    for col in ("organization", "mode", "generation", "inserted", "updated", "deleted",
                "quarantined"):
        table.add_column(col, justify="right" if col not in ("organization", "mode") else "left",
                         no_wrap=True)
    notes = []
    for o in sorted(report.orgs, key=lambda o: (o.mode == "unchanged", o.name or o.org_uid)):
        ins, upd, dele = (sum(c[i] for c in o.changes.values()) for i in range(3))
        start = "–" if o.generation_from is None else str(o.generation_from)
        gen = f"{start} → {o.generation_to}" if o.generation_from != o.generation_to else start
        name = (o.name or o.org_uid[:16])[:40]
        table.add_row(name, o.mode, gen, str(ins), str(upd), str(dele), str(o.quarantined))
        if o.reason and o.mode != "unchanged":
            notes.append(f"{name}: {o.reason}")
    console.print(table)
    for note in notes:
        console.print(f"  {note}")
    by_table = report.changes_by_table()
    if by_table:
        console.print("changes by table (+inserted/~updated/-deleted): " + ", ".join(
            f"{t} +{i}/~{u}/-{d}" for t, (i, u, d) in sorted(by_table.items())))
    console.print(
        f"{report.requests} requests, {report.bytes / 1e6:.1f} MB, {report.retries} retries, "
        f"{report.seconds:.1f} s; pick lists: {report.pick_lists}")
    if report.published_to:
        console.print(f"read-only serving copy for BI tools: {report.published_to}")
    if report.unknown_fields:
        console.print("[yellow]fields the catalogue does not know (kept in _extra):[/yellow] "
                      + "; ".join(f"{t}: {', '.join(f)}" for t, f in report.unknown_fields.items()))
    if report.error:
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {report.error}")


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    db = database_path(args.database)
    if not db.exists():
        console.print(f"no warehouse at {db} yet: run `cadt-mirror sync` first")
        return EXIT_FAILED
    try:
        con = connect(db, read_only=True)
    except WarehouseBusyError:  # a sync is writing: the serving copy has the last published state
        serving = serving_path(db)
        if not serving.exists():
            raise
        console.print(f"[yellow]a sync is running; showing the serving copy {serving}[/yellow]")
        con = connect(serving, read_only=True)
    try:
        rows = con.execute(
            """
            SELECT s.org_uid, o.name, s.generation, s.registry_hash, s.synced_at, s.mode,
                   (SELECT count(*) FROM cadt_v1.projects p WHERE p.org_uid = s.org_uid),
                   (SELECT count(*) FROM cadt_v1.units u WHERE u.org_uid = s.org_uid),
                   (SELECT count(*) FROM cadt_v1.audit a WHERE a.org_uid = s.org_uid),
                   o.registry_hash IS DISTINCT FROM s.registry_hash AS behind
            FROM cadt_mirror.sync_state s
            LEFT JOIN cadt_v1.organizations o USING (org_uid)
            ORDER BY o.name NULLS LAST
            """
        ).fetchall()
        last = con.execute(
            "SELECT sync_id, status, started_at, finished_at, requests, error "
            "FROM cadt_mirror.sync_runs ORDER BY started_at DESC LIMIT 1").fetchall()
        quarantined = con.execute("SELECT count(*) FROM cadt_mirror.quarantine").fetchall()[0][0]
    finally:
        con.close()
    now = datetime.now(UTC)
    table = RichTable(title=f"warehouse {db}", title_justify="left")
    for col in ("organization", "generation", "registry hash", "last sync", "lag", "projects",
                "units", "audit rows", "source moved"):
        table.add_column(col)
    for uid, name, gen, h, synced_at, _mode, np_, nu, na, behind in rows:
        lag = _ago(now - synced_at) if synced_at else "-"
        table.add_row((name or uid[:16])[:40], str(gen), (h or "")[:14] + "…",
                      f"{synced_at:%Y-%m-%d %H:%M:%S}" if synced_at else "-", lag, str(np_),
                      str(nu), str(na), "yes" if behind else "no")
    console.print(table)
    if last:
        sid, status, _started, _finished, requests, error = last[0]
        console.print(f"last run {sid}: {status}, {requests or 0} requests"
                      + (f", error: {error}" if error else ""))
    console.print(f"quarantined records: {quarantined}")
    return EXIT_OK


def _ago(delta: timedelta) -> str:
    s = int(delta.total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    return f"{s // 3600}h"


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    from pipelines.transform import run_dbt  # dbt is heavy: import only when needed

    db = database_path(args.database).resolve()
    console.print(f"dbt build over {db}")
    if run_dbt(["build", *args.dbt_args], db) != 0:
        return EXIT_FAILED
    console.print(f"read-only serving copy for BI tools: {publish_file(db)}")
    return EXIT_OK


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from cadt_sim import Simulator

    db = Path(args.database or os.environ.get("CADT_MIRROR_DB") or "data/demo.duckdb")
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    console.print(f"[bold]1/4[/bold] starting the CADT simulator (seed {args.seed}, "
                  f"scale {args.scale})")
    with Simulator(seed=args.seed, scale=args.scale) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=db)
        console.print(f"[bold]2/4[/bold] full sync from {settings.api_url} into {db}")
        report = _run(settings, console)
        print_report(report, console)
        if report.status != "success":
            return EXIT_FAILED
        console.print("[bold]3/4[/bold] the registries publish: new units, retirements, a split, "
                      "edits, a deletion; incremental sync")
        for kind in ("issue_units", "retire", "split", "edit_projects", "delete_units"):
            sim.activity(kind, count=3)
        report = _run(settings, console)
        print_report(report, console)
        if report.status != "success":
            return EXIT_FAILED
    if args.no_build:
        return EXIT_OK
    console.print("[bold]4/4[/bold] dbt build (staging, intermediate, marts, tests)")
    from pipelines.transform import run_dbt

    code = run_dbt(["build"], db.resolve())
    if code == 0:
        _print_marts(db, console)
        console.print(f"read-only serving copy for BI tools: {publish_file(db)}")
    return EXIT_OK if code == 0 else EXIT_FAILED


def _print_marts(db: Path, console: Console) -> None:
    con = connect(db, read_only=True)
    try:
        tables = con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts' "
            "ORDER BY 1").fetchall()
        console.print("marts: " + ", ".join(f"{t[0]} ({_count(con, t[0])})" for t in tables))
    finally:
        con.close()


def _count(con: duckdb.DuckDBPyConnection, table: str) -> int:
    return con.execute(f'SELECT count(*) FROM marts."{table}"').fetchall()[0][0]


if __name__ == "__main__":
    sys.exit(main())
