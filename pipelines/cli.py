"""`cadt-mirror`: sync, inspect and transform a local CADT warehouse.

    cadt-mirror sync     incremental sync of every data model the node serves (v1 into schema
                         cadt_v1, v2 into cadt_v2; --data-model v1|v2|all, --full-refresh,
                         --org, --verify, --switch-node, ...)
    cadt-mirror run      sync, checks, dbt build, publish and report: the one command for cron
    cadt-mirror status   per organization: generation, lag, last change, rows (--check: ask
                         the node whether it moved since)
    cadt-mirror build    dbt build of the marts over the warehouse (-s/--select, --exclude,
                         --full-refresh, -- anything for dbt; -v shows dbt's output)
    cadt-mirror publish  publish a complete snapshot for BI tools (serving copy, Parquet, report)
    cadt-mirror report   write the HTML report of the published snapshot again
    cadt-mirror demo     in its own directory (data/demo/): start the bundled CADT simulator,
                         sync, change, sync, build, summarise

Environment: CADT_API_URL (default: the public observer), CADT_API_KEY, CADT_MIRROR_DB
(default data/cadt.duckdb), CADT_MIRROR_SERVING_DB, CADT_CONCURRENCY (1-16), CADT_PAGE_SIZE
(1-1000), CADT_MIRROR_MEMORY_LIMIT (e.g. 384MB, 2GB, 50%), CADT_VERIFY_EVERY_HOURS,
CADT_MIRROR_KEEP_SNAPSHOTS (published snapshots kept, default 3), CADT_DATA_MODELS (v1, v2 or
all, the default).

Exit codes: 0 success, 1 the sync failed (or some organizations did), 2 a setting or argument
is not allowed, 3 the warehouse is in use, 4 (run) a blocking check failed, 5 (run) dbt build
failed, 130 / 143 interrupted by SIGINT / SIGTERM.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

import duckdb
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from pipelines import config
from pipelines.config import SettingError
from pipelines.progress import RichProgress
from pipelines.sync import SyncReport, SyncSettings, data_models
from pipelines.sync.data_models import DataModelsRun
from pipelines.sync.interrupts import exit_code
from pipelines.warehouse import state as st
from pipelines.warehouse.db import WarehouseBusyError, connect
from pipelines.warehouse.publish import is_serving_dir, publish_file, serving_dir, serving_path

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_BUSY = 0, 1, 2, 3
CHECKS: dict[str, Callable[[str, str], object]] = {
    "--api-url": config.api_url,
    "--concurrency": lambda name, v: config.whole_number(name, v, *config.CONCURRENCY),
    "--retries": lambda name, v: config.whole_number(name, v, 0),
}
DEMO_DIR = Path("data/demo")
DEMO_DB, DEMO_SERVING = "cadt.duckdb", "cadt.serving.duckdb"


class Terminated(Exception):
    """SIGTERM outside a sync (a sync handles it itself and stops at a safe point)."""


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    console = Console()
    if not console.is_terminal:  # logs and pipes: wide enough for the summary table
        console = Console(width=max(console.width, 140))
    try:
        return int(args.func(args, console) or 0)
    except SettingError as e:
        _error(str(e))
        return EXIT_USAGE
    except WarehouseBusyError as e:
        _error(str(e))
        return EXIT_BUSY
    except KeyboardInterrupt:
        _error("interrupted: the warehouse keeps its last committed state", "yellow")
        return exit_code(signal.SIGINT)
    except Terminated:
        _error("terminated: the warehouse keeps its last committed state", "yellow")
        return exit_code(signal.SIGTERM)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise Terminated


def _error(message: str, colour: str = "red") -> None:
    label = "error" if colour == "red" else "stopped"
    Console(stderr=True, soft_wrap=True).print(f"[{colour}]{label}:[/{colour}] {escape(message)}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="cadt-mirror", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-v", "--verbose", action="store_true", help="log retries and progress")
    # -v after the command too (`cadt-mirror sync -v`); SUPPRESS keeps one given before it
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                        help="log retries and progress")
    sub = p.add_subparsers(required=True, metavar="COMMAND")

    s = sub.add_parser("sync", parents=[common],
                       help="bring the warehouse up to date with the CADT node")
    _database(s)
    s.add_argument("--api-url", help="CADT node URL (env CADT_API_URL; /api and /v1 optional)")
    s.add_argument("--full-refresh", action="store_true",
                   help="re-read every organization completely instead of replaying changes "
                        "(allowed from another node, like --switch-node)")
    s.add_argument("--switch-node", action="store_true",
                   help="the warehouse mirrors another node: make it mirror this one "
                        "(organizations this node does not list are removed; logged in "
                        "cadt_mirror.sync_runs)")
    _data_model(s)
    s.add_argument("--verify", action="store_true",
                   help="check every organization's audit tail now (by itself it runs every "
                        "CADT_VERIFY_EVERY_HOURS, default 24)")
    s.add_argument("--org", action="append", default=[], metavar="ORG_UID",
                   help="only this organization (repeatable; full orgUid)")
    s.add_argument("--concurrency", metavar="N",
                   help="parallel requests, 1 to 16 (env CADT_CONCURRENCY, default 4)")
    s.add_argument("--retries", metavar="N",
                   help="retries per request before giving up, 0 or more (default 8)")
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=cmd_sync)

    from pipelines import dbt_build, operate, status  # run, status, build, publish, report

    s = sub.add_parser("run", parents=[common],
                       help="sync, checks, dbt build, publish and report: the one command for cron",
                       description=operate.__doc__,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    _database(s)
    s.add_argument("--api-url", help="CADT node URL (env CADT_API_URL; /api and /v1 optional)")
    s.add_argument("--full-refresh", action="store_true",
                   help="re-read every organization completely instead of replaying changes")
    s.add_argument("--concurrency", metavar="N",
                   help="parallel requests, 1 to 16 (env CADT_CONCURRENCY, default 4)")
    s.add_argument("--retries", metavar="N",
                   help="retries per request before giving up, 0 or more (default 8)")
    _data_model(s)
    s.add_argument("--quiet", action="store_true", help="no progress bars")
    s.set_defaults(func=operate.cmd_run, switch_node=False, verify=False, org=[])

    s = sub.add_parser("status", parents=[common], help="what the warehouse holds, per organization")
    _database(s)
    status.add_arguments(s)
    s.set_defaults(func=status.cmd_status)

    s = sub.add_parser("build", parents=[common],
                       help="dbt build: staging, intermediate and mart models + tests")
    _database(s)
    dbt_build.add_arguments(s)
    s.set_defaults(func=dbt_build.cmd_build)

    s = sub.add_parser("publish", parents=[common],
                       help="publish a complete snapshot: serving copy, Parquet, report")
    _database(s)
    s.set_defaults(func=operate.cmd_publish)

    s = sub.add_parser("report", parents=[common],
                       help="write the HTML report of the published snapshot again")
    _database(s)
    s.add_argument("--out", metavar="FILE",
                   help="where to write it (default: <serving>/current/report.html)")
    s.set_defaults(func=operate.cmd_report)

    from pipelines import search  # the `search` subcommand lives in pipelines/search.py

    s = sub.add_parser("search", parents=[common],
                       help="search projects and unit blocks across every organization")
    _database(s)
    search.add_arguments(s)
    s.set_defaults(func=search.cmd_search)

    from pipelines import changes  # the `changes` subcommand lives in pipelines/changes.py

    s = sub.add_parser("changes", parents=[common],
                       help="the records the syncs changed since a time or a sync id")
    _database(s)
    changes.add_arguments(s)
    s.set_defaults(func=changes.cmd_changes)

    s = sub.add_parser(
        "demo", parents=[common], help="end to end on the bundled CADT simulator (no internet)",
        description="Start the bundled CADT simulator, sync it, change it, sync again and build "
                    f"the marts, all in the demo directory: {DEMO_DB} (warehouse) and "
                    f"{DEMO_SERVING} (serving copy). CADT_MIRROR_DB and CADT_MIRROR_SERVING_DB "
                    "are never used, and a file there that the demo did not make is never "
                    "overwritten.")
    s.add_argument("--dir", default=str(DEMO_DIR),
                   help=f"the demo's own directory (default {DEMO_DIR}/)")
    s.add_argument("--scale", type=float, default=2, help="simulator scale (1 ≈ 20 projects, "
                   "1,000 unit records)")
    s.add_argument("--seed", type=int, default=7)
    s.add_argument("--no-build", action="store_true", help="skip dbt build")
    s.set_defaults(func=cmd_demo)
    return p


def _database(s: argparse.ArgumentParser) -> None:
    s.add_argument("--database", help="DuckDB warehouse file (env CADT_MIRROR_DB)")


def _data_model(s: argparse.ArgumentParser) -> None:
    s.add_argument("--data-model", choices=data_models.CHOICES, default=None,
                   help="CADT data models to mirror (env CADT_DATA_MODELS, default all: every "
                        "model the node serves, detected with one request each; v1 into "
                        "schema cadt_v1, v2 into cadt_v2)")


def _settings(args: argparse.Namespace) -> SyncSettings:
    """Settings from the arguments and the environment, each value checked under the name the
    user gave it (--concurrency, CADT_CONCURRENCY, ...)."""
    given = {"--api-url": args.api_url, "--concurrency": args.concurrency,
             "--retries": args.retries}
    checked = {name: None if value is None else CHECKS[name](name, value)
               for name, value in given.items()}
    settings = SyncSettings.from_env(
        api_url=checked["--api-url"], database=args.database, full_refresh=args.full_refresh,
        switch_node=args.switch_node, verify=args.verify, orgs=tuple(args.org),
        concurrency=checked["--concurrency"], max_retries=checked["--retries"],
    )
    config.keep_snapshots()  # a sync publishes: a bad CADT_MIRROR_KEEP_SNAPSHOTS stops it now
    serving = serving_path(settings.database)
    if serving.is_dir():
        raise SettingError(f"the serving copy path {serving} (CADT_MIRROR_SERVING_DB) is a "
                           "directory; give a file path")
    return settings


def cmd_sync(args: argparse.Namespace, console: Console) -> int:
    settings = _settings(args)
    models = data_models.models_setting(args.data_model, "--data-model")
    console.print(f"syncing [bold]{escape(st.public_url(settings.api_url))}[/bold] into "
                  f"{escape(str(settings.database))}")
    run = _run(settings, console, quiet=args.quiet, models=models)
    return _exit_code(run)


def _exit_code(run: DataModelsRun | SyncReport) -> int:
    """The interrupt's code if a sync was interrupted; 2 for a refused argument; 0 when every
    data model's sync succeeded; else 1."""
    reports = list(run.reports.values()) if isinstance(run, DataModelsRun) else [run]
    stopped = next((r for r in reports if r.status == "interrupted"), None)
    if stopped is not None:
        name = stopped.interrupted_by or "SIGINT"
        return exit_code(signal.Signals[name] if name in signal.Signals.__members__
                         else signal.SIGINT)
    if any(r.bad_input for r in reports):
        return EXIT_USAGE
    return EXIT_OK if reports and all(r.status == "success" for r in reports) else EXIT_FAILED


def _run(settings: SyncSettings, console: Console, quiet: bool = False,
         models: tuple[str, ...] | None = None) -> DataModelsRun:
    """Every requested data model the node serves, one sync each (pipelines/sync/data_models),
    each one announced when it starts and its report printed when it ends."""
    several = shown = False

    def start(model: str, detected: data_models.Detected | None) -> None:
        nonlocal several, shown
        if detected is not None and not shown:
            console.print(escape(detected.describe()), soft_wrap=True)
            shown = True
        several = detected is not None and len(detected.served) > 1
        if several:
            console.print(f"[bold]data model {model}[/bold]: syncing into schema "
                          f"{data_models.CATALOGS[model].schema}")

    def done(model: str, report: SyncReport) -> None:
        print_report(report, console, model=model if several else None)

    kw: dict[str, Any] = {"handle_signals": True, "on_start": start, "on_report": done}
    if quiet or not console.is_terminal:
        run = data_models.sync_data_models(settings, models, **kw)
    else:
        with RichProgress(console) as progress:
            run = data_models.sync_data_models(settings, models, progress, **kw)
    for model, why in run.skipped.items():
        if why != "not served by this node":
            console.print(f"data model {model}: {escape(why)}")
    if run.published_to and len(run.reports) > 1:
        console.print(f"read-only serving copy for BI tools: {escape(run.published_to)}")
    return run


def print_report(report: SyncReport, console: Console, model: str | None = None) -> None:
    """One sync's summary; `model` labels it when the run synced more than one data model."""
    label = f" (data model {model})" if model else ""
    if report.status == "interrupted":
        _error((report.error or "interrupted") + label, "yellow")
        return
    table = RichTable(title=f"sync {report.sync_id}{label}: {report.status}",
                      title_justify="left")
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
        table.add_row(escape(name), o.mode, gen, str(ins), str(upd), str(dele), str(o.quarantined))
        if o.reason and o.mode != "unchanged":
            notes.append(f"{name}: {o.reason}")
        if o.reads:
            notes.append(f"{name}: changes read as " + "; ".join(
                f"{t}: {how}" for t, how in sorted(o.reads.items())))
    console.print(table)
    for note in notes:
        console.print(f"  {escape(note)}")
    by_table = report.changes_by_table()
    if by_table:
        console.print("changes by table (+inserted/~updated/-deleted): " + ", ".join(
            f"{t} +{i}/~{u}/-{d}" for t, (i, u, d) in sorted(by_table.items())))
    paced = (f", {report.rate_limited} answered 429" if report.rate_limited else "") + (
        f", {report.paced_seconds:.0f} s waiting for the node's rate-limit window"
        if report.paced_seconds >= 1 else "")
    console.print(
        f"{report.requests} requests, {report.bytes / 1e6:.1f} MB, {report.retries} retries"
        f"{paced}, {report.seconds:.1f} s; pick lists: {report.pick_lists}")
    if report.published_to and not model:
        console.print(f"read-only serving copy for BI tools: {escape(report.published_to)}")
    if report.unknown_fields:
        console.print("[yellow]fields the catalogue does not know (kept in _extra):[/yellow] "
                      + escape("; ".join(f"{t}: {', '.join(f)}"
                                         for t, f in report.unknown_fields.items())))
    if report.error:
        _error(report.error)


# -- demo ---------------------------------------------------------------------------------------


DEMO_V1_ACTIVITY = ("issue_units", "retire", "split", "edit_projects", "delete_units")
DEMO_V2_ACTIVITY = ("v2_issue_units", "v2_retire", "v2_aef_authorize", "v2_aef_actions",
                    "upgrade")


def cmd_demo(args: argparse.Namespace, console: Console) -> int:
    from cadt_sim import Simulator

    home = Path(args.dir)
    db, serving = home / DEMO_DB, home / DEMO_SERVING
    _clear_demo(home, db, serving)
    _new_demo_warehouse(db, args.seed, args.scale)
    console.print(f"demo directory {escape(str(home))}/ (CADT_MIRROR_DB and "
                  "CADT_MIRROR_SERVING_DB are not used)")
    console.print(f"[bold]1/4[/bold] starting the CADT simulator (seed {args.seed}, "
                  f"scale {args.scale}) with data models v1 and v2: organizations with a v1 "
                  "store, a v2 store or both")
    with Simulator(seed=args.seed, scale=args.scale, v2=True) as sim:
        settings = SyncSettings(api_url=sim.url + "/api/v1", database=db, serving=serving)
        console.print(f"[bold]2/4[/bold] full sync of every data model from {settings.api_url} "
                      f"into {db}")
        run = _run(settings, console)
        if run.status != "success":
            return _exit_code(run) or EXIT_FAILED
        console.print("[bold]3/4[/bold] the registries publish: new units, retirements, a split, "
                      "edits, a deletion (v1); units, retirements, Article 6 authorizations and "
                      "actions, an organization upgrading to v2 (v2); incremental sync")
        for kind in DEMO_V1_ACTIVITY:
            sim.activity(kind, count=3)
        for kind in DEMO_V2_ACTIVITY:
            sim.activity(kind, count=1 if kind == "upgrade" else 3)
        run = _run(settings, console)
        if run.status != "success":
            return _exit_code(run) or EXIT_FAILED
    from pipelines import dbt_build
    from pipelines.operate import print_connect, print_published

    _print_models(db, console)
    if args.no_build:
        print_connect(serving, console, report=True)
        return EXIT_OK
    console.print("[bold]4/4[/bold] dbt build (staging, intermediate, marts, tests)")
    db = db.resolve()
    outcome = dbt_build.run_build(db, dbt_build.dbt_build_args(), console,
                                  verbose=getattr(args, "verbose", False),
                                  gens=dbt_build.check_synced(db))
    console.print(escape(outcome.line()), soft_wrap=True)
    if not outcome.ok:
        return EXIT_FAILED
    _print_marts(db, console)
    print_published(publish_file(db, serving, by="cadt-mirror demo"), console)
    print_connect(serving, console)
    return EXIT_OK


def _clear_demo(home: Path, db: Path, serving: Path) -> None:
    """Remove the previous demo's files, after checking that they are one: the demo never
    overwrites a file it did not make."""
    if home.exists() and not home.is_dir():
        raise SettingError(f"the demo directory {home} is a file; pass --dir with a directory")
    for path in (db, serving):
        if path.exists() and not _is_demo_warehouse(path):
            raise SettingError(f"refusing to overwrite {path}: it is not a warehouse "
                               "`cadt-mirror demo` made; move it away or pass --dir with "
                               "another directory")
    snapshots = serving_dir(serving)
    if snapshots.exists() and not is_serving_dir(snapshots):
        raise SettingError(f"refusing to overwrite {snapshots}: it is not the demo's snapshot "
                           "directory; move it away or pass --dir with another directory")
    for path in (db, serving):
        for f in (path, path.with_name(path.name + ".wal")):
            f.unlink(missing_ok=True)
    shutil.rmtree(db.with_name(db.name + ".tmp"), ignore_errors=True)
    shutil.rmtree(snapshots, ignore_errors=True)


def _is_demo_warehouse(path: Path) -> bool:
    """A DuckDB file (by its header; nothing else is opened) that the demo marked as its own."""
    if not path.is_file():
        return False
    with path.open("rb") as f:
        if f.read(12)[8:12] != b"DUCK":
            return False
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.IOException as e:
        if "lock" in str(e).lower():
            raise WarehouseBusyError(f"{path} is in use by another process (a demo running?)"
                                     ) from None
        return False
    except duckdb.Error:
        return False
    try:
        return st.is_demo(con)
    finally:
        con.close()


def _new_demo_warehouse(db: Path, seed: int, scale: float) -> None:
    from pipelines.source.catalog_v1 import V1
    from pipelines.warehouse.schema import ensure_schema

    con = connect(db)
    try:
        ensure_schema(con, V1)
        st.mark_demo(con, seed, scale)
    finally:
        con.close()


def _print_models(db: Path, console: Console) -> None:
    """What each data model holds: organizations, projects, units; for v2 the Article 6 (AEF)
    tables too."""
    from pipelines.source.catalog_v2 import V2

    con = connect(db, read_only=True)
    try:
        have = set(con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                               "WHERE schema_name IN ('cadt_v1', 'cadt_v2')").fetchall())

        def n(schema: str, table: str) -> int:
            if (schema, table) not in have:
                return 0
            return con.execute(f'SELECT count(*) FROM {schema}."{table}"').fetchall()[0][0]

        both = con.execute(
            "SELECT count(*) FROM cadt_v1.organizations o JOIN cadt_v2.organizations t "
            "ON t.org_uid = o.org_uid").fetchall()[0][0] if ("cadt_v2", "organizations") in have \
            else 0
        console.print(f"cadt_v1: {n('cadt_v1', 'organizations')} organizations, "
                      f"{n('cadt_v1', 'projects')} projects, {n('cadt_v1', 'units')} units")
        console.print(f"cadt_v2: {n('cadt_v2', 'organizations')} organizations ({both} also in "
                      f"v1), {n('cadt_v2', 'project')} projects, {n('cadt_v2', 'unit')} units")
        aef = [t.name for t in V2.tables if t.name.startswith("aef_")]
        console.print("cadt_v2 Article 6 (AEF): " + ", ".join(
            f"{t} {n('cadt_v2', t)}" for t in aef))
    finally:
        con.close()


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
