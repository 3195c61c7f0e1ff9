"""`cadt-mirror run`, `publish` and `report`: the commands a scheduler and a dashboard need.

`run` is the one command for cron: sync (every data model the node serves, as `sync` does),
the gates on the raw tables (the same blocking checks Dagster runs), dbt build (models and
tests), publish a complete snapshot and its report. Each stage that fails stops the run
before anything is published, with its own exit code, so the serving copy stays the last
good one:

    0 success (or nothing changed since the published snapshot)
    1 the sync failed, or some organizations or data models did (the rest is built and
      published)
    2 a setting or argument is not allowed          3 the warehouse is in use
    4 a blocking check failed (nothing built or published)
    5 dbt build failed: a model or test (nothing published)
    130 / 143 interrupted by SIGINT / SIGTERM
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

from pipelines import config
from pipelines.source.client import CadtError
from pipelines.sync import data_models
from pipelines.sync.settings import SyncReport, SyncSettings
from pipelines.warehouse import builds
from pipelines.warehouse.db import connect, database_path, ensure_mirror
from pipelines.warehouse.publish import (
    RAW_AND_MARTS,
    Published,
    publish_file,
    read_published,
    serving_dir,
    serving_path,
)

EXIT_CHECKS, EXIT_BUILD = 4, 5


def print_published(p: Published, console: Console) -> None:
    m = p.metadata
    console.print(f"read-only serving copy for BI tools: {escape(str(p.path))} "
                  f"({escape(m['contents'])}, snapshot {m['snapshot_id']})", soft_wrap=True)
    if m["contents"] != RAW_AND_MARTS:
        console.print(f"  [yellow]{escape(m['marts_build'])}[/yellow]", soft_wrap=True)
    if m["marts"]:
        console.print(f"  Parquet: {escape(str(p.current / 'parquet'))}/<mart>.parquet "
                      f"({len(m['marts'])} marts)", soft_wrap=True)
    if (p.snapshot / "report.html").exists():
        console.print(f"  report: {escape(str(p.current / 'report.html'))}", soft_wrap=True)


# -- run ------------------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, console: Console) -> int:
    from pipelines import cli, dbt_build

    settings = dataclasses.replace(cli._settings(args), publish=False)
    models = data_models.models_setting(getattr(args, "data_model", None), "--data-model")
    keep = config.keep_snapshots()  # checked before anything starts
    db = settings.database
    console.print(f"[bold]1/4[/bold] sync {escape(settings.api_url)} into {escape(str(db))}")
    run = cli._run(settings, console, quiet=args.quiet, models=models)
    if run.status not in ("success", "partial") or run.bad_input:
        return cli._exit_code(run)
    # a data model (or some organizations) failed: the others are built and published
    partial = cli.EXIT_FAILED if run.status == "partial" else cli.EXIT_OK
    if _up_to_date(list(run.reports.values()), db):
        console.print("nothing changed since the published snapshot: it is current")
        return partial
    console.print("[bold]2/4[/bold] checks on the raw tables")
    v1 = run.report("v1")
    if v1 is None:
        console.print("no v1 sync in this run: the raw-table checks (data model v1) are skipped")
    else:
        try:
            passed = _checks(settings, v1, console)
        except CadtError as e:
            cli._error(f"the checks could not ask the node for its counts: {e}")
            return cli.EXIT_FAILED
        if not passed:
            console.print("[red]a blocking check failed: nothing built or published; the "
                          "serving copy stays the last good one[/red]")
            return EXIT_CHECKS
    console.print("[bold]3/4[/bold] dbt build (models and tests)")
    db = db.resolve()
    gens = dbt_build.check_synced(db)
    outcome = dbt_build.run_build(db, dbt_build.dbt_build_args(), console,
                                  verbose=getattr(args, "verbose", False), gens=gens)
    console.print(escape(outcome.line()), soft_wrap=True)
    if not outcome.ok:
        console.print("[red]dbt build failed: nothing published; the serving copy stays the "
                      "last good one[/red]")
        return EXIT_BUILD
    console.print("[bold]4/4[/bold] publish and report")
    print_published(publish_file(db, by="cadt-mirror run", keep=keep), console)
    return partial


def _up_to_date(reports: list[SyncReport], db: Path) -> bool:
    """Nothing moved in any data model and the serving copy already holds these raw tables
    with their marts."""
    moved = any(o.mode != "unchanged" for r in reports for o in r.orgs) or any(
        r.pick_lists != "unchanged" for r in reports)
    serving = serving_path(db)
    if moved or not serving.exists():
        return False
    published = read_published(serving)
    if published is None or published["contents"] != RAW_AND_MARTS:
        return False
    con = connect(db, read_only=True)
    try:
        build = builds.current_build(con)
        gens = builds.generations(con)
    finally:
        con.close()
    return build is not None and published["generations"] == gens


def _checks(settings: SyncSettings, report: SyncReport, console: Console) -> bool:
    """The gates Dagster evaluates after a sync (pipelines/defs/gates.py); False if a blocking
    one failed."""
    from dagster import AssetCheckSeverity

    from pipelines.defs import gates, node
    from pipelines.source.client import CadtClient  # (dagster: imported only by `run`)

    async def counts() -> node.NodeCounts:
        async with CadtClient(settings.api_url, settings.api_key,
                              concurrency=settings.concurrency,
                              max_retries=settings.max_retries) as client:
            return await node.count(client)

    results = [r for rs in gates.evaluate(settings.database, report,
                                          asyncio.run(counts())).values() for r in rs]
    failed = [r for r in results if not r.passed]
    blocking = [r for r in failed if r.severity == AssetCheckSeverity.ERROR]
    console.print(f"{len(results) - len(failed)} passed, {len(failed) - len(blocking)} "
                  f"warnings, {len(blocking)} blocking failures")
    for r in failed:
        label = "[red]failed[/red]" if r in blocking else "[yellow]warning[/yellow]"
        details = {k: v.value for k, v in (r.metadata or {}).items()}
        console.print(f"  {label} {r.check_name} on {r.asset_key.path[-1]}: "
                      f"{escape(_short(details))}")
    return not blocking


def _short(details: dict[str, Any], limit: int = 300) -> str:
    text = ", ".join(f"{k}={v}" for k, v in details.items() if v not in ({}, [], None))
    return text if len(text) <= limit else text[:limit] + "…"


# -- publish and report ---------------------------------------------------------------------------


def cmd_publish(args: argparse.Namespace, console: Console) -> int:
    from pipelines.cli import EXIT_FAILED, EXIT_OK
    from pipelines.dbt_build import NeverSynced, check_synced

    config.keep_snapshots()  # checked before anything starts
    db = database_path(args.database).resolve()
    if not db.exists():
        console.print(f"no warehouse at {escape(str(db))} yet: run `cadt-mirror sync` first")
        return EXIT_FAILED
    try:
        check_synced(db)
    except NeverSynced as e:
        console.print(escape(str(e).replace("build the marts on", "publish")), soft_wrap=True)
        return EXIT_FAILED
    print_published(publish_file(db, by="cadt-mirror publish"), console)
    return EXIT_OK


def cmd_report(args: argparse.Namespace, console: Console) -> int:
    from pipelines.cli import EXIT_FAILED, EXIT_OK
    from pipelines.report import write_report

    serving = serving_path(database_path(args.database))
    meta = read_published(serving) if serving.exists() else None
    if meta is None:
        console.print(f"no published snapshot at {escape(str(serving))}: run `cadt-mirror "
                      "publish` (or `cadt-mirror run`) first")
        return EXIT_FAILED
    out = Path(args.out) if args.out else serving_dir(serving) / "current" / "report.html"
    con = connect(serving, read_only=True)
    try:
        ensure_mirror(con, serving)
        write_report(con, meta, out)
    finally:
        con.close()
    console.print(f"report of snapshot {meta['snapshot_id']} ({escape(meta['contents'])}): "
                  f"{escape(str(out))}")
    return EXIT_OK


def print_connect(serving: Path, console: Console, *, report: bool = False) -> None:
    """How to open the serving copy (the end of `make demo`); `report`: where its report is."""
    path = escape(str(serving))
    console.print("[bold]connect[/bold] (read-only; Metabase, Superset, Evidence, Grafana, "
                  "DBeaver: docs/bi.md)")
    console.print(f"  Python: .venv/bin/python -c \"import duckdb; duckdb.connect('{path}', "
                  "read_only=True).sql('from marts.dim_projects limit 5').show()\"",
                  soft_wrap=True)
    console.print(f"  DuckDB CLI: .venv/bin/uv tool run --from duckdb-cli==1.5.6 duckdb "
                  f"-readonly {path}", soft_wrap=True)
    current = serving_dir(serving) / "current" / "report.html"
    if report and current.exists():
        console.print(f"  report (opens offline): {escape(str(current))}", soft_wrap=True)
