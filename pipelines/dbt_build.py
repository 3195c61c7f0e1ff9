"""`cadt-mirror build`: dbt build over the warehouse, quiet unless asked, recorded for publishing.

dbt prints a line per node (hundreds), with colour codes even into a pipe. Here it runs with JSON
logs, read as they come: by default only errors, the failure summary and one line of totals are
shown (`-v`: every line dbt would print, without colour codes); the invocation id and the times
are recorded in `cadt_mirror.marts_builds`, which tells a later publish whether the marts belong
to the raw tables beside them (`pipelines/warehouse/builds.py`). A warehouse that was never
synced gets one sentence instead of a build failing on every model.
"""

from __future__ import annotations

import argparse
import json
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
from rich.console import Console
from rich.markup import escape

from pipelines import config
from pipelines.transform._runner import dbt_args, dbt_env, dbt_executable
from pipelines.transform.fingerprint import project_digest
from pipelines.warehouse import builds
from pipelines.warehouse.db import WarehouseBusyError, connect, database_path, ensure_mirror

# dbt options that choose nodes: a build given one of them did not rebuild every mart
SELECTING = ("-s", "--select", "-m", "--models", "--exclude", "--selector", "--resource-type",
             "--resource-types", "--exclude-resource-type", "--exclude-resource-types")


class NeverSynced(RuntimeError):
    """The warehouse has no successful sync: there is nothing to build on."""


@dataclass
class BuildOutcome:
    code: int  # dbt's: 0 success, 1 a model or test failed, 2 an error before running
    invocation_id: str | None = None
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime | None = None
    summary: str | None = None  # dbt's "Done. PASS=… WARN=… ERROR=…" line
    warnings: int = 0
    skipped: builds.MartsBuild | None = None  # dbt not run: the marts are this build's, current

    @property
    def ok(self) -> bool:
        return self.code == 0

    def line(self) -> str:
        """dbt's totals, how long it took, and how many tests warned."""
        if self.skipped is not None:
            return (f"nothing to build: no sync changed a raw table and the dbt project is the "
                    f"same since {self.skipped.describe()}, so the marts are current "
                    "(--full-refresh or --all-tests runs dbt anyway)")
        took = ((self.finished_at or datetime.now(UTC)) - self.started_at).total_seconds()
        warned = f"; {self.warnings} tests warn (-v shows them)" if self.warnings else ""
        return f"{self.summary or f'dbt exited {self.code}'} in {took:.1f} s{warned}"


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("-s", "--select", nargs="+", action="extend", default=[], metavar="SELECTOR",
                   help="build only these dbt nodes (dbt's --select syntax)")
    s.add_argument("--exclude", nargs="+", action="extend", default=[], metavar="SELECTOR",
                   help="leave these dbt nodes out")
    s.add_argument("--full-refresh", action="store_true",
                   help="rebuild the incremental models from scratch")
    s.add_argument("--all-tests", action="store_true",
                   help="run every dbt test, also on an incremental refresh (by default only a "
                        "full build runs the unit tests and the tests of unit-level models)")
    s.add_argument("dbt_args", nargs="*", metavar="-- DBT_ARGS",
                   help="anything else for `dbt build`, after `--` (e.g. -- --threads 1)")


def dbt_build_args(select: Sequence[str] = (), exclude: Sequence[str] = (),
                   full_refresh: bool = False, extra: Sequence[str] = ()) -> list[str]:
    args = ["build"]
    if select:
        args += ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    if full_refresh:
        args.append("--full-refresh")
    return [*args, *(a for a in extra if a != "--")]


def _plain_build(args: Sequence[str]) -> bool:
    """`dbt build` of the whole project, not from scratch (no --full-refresh, no selection)."""
    return bool(args) and args[0] == "build" and "--full-refresh" not in args and not any(
        a.split("=", 1)[0] in SELECTING for a in args)


# The selector incremental_refresh (dbt_project/selectors.yml) spelt as --exclude, to go with a
# --select of what changed (dbt 1.11 cannot combine --selector with --select); a test checks
# that both choose the same nodes.
REFRESH_EXCLUDE = ("resource_type:unit_test", "test_type:singular", "resource_type:test,tag:unit_level")


def refresh_args(db: Path, args: Sequence[str], digest: str | None = None) -> list[str]:
    """`args` for dbt, with the lighter tests of an incremental refresh when the build is one,
    and only what changed when that can be said (`_refresh`)."""
    return _refresh(db, args, digest)[0]


def _refresh(db: Path, args: Sequence[str],
             digest: str | None) -> tuple[list[str], builds.MartsBuild | None]:
    """What a build with `args` runs, and the build it would only repeat (then it runs nothing).

    An incremental refresh is a plain `dbt build` (no --full-refresh, no selection of nodes)
    over a warehouse whose marts were built before. It runs the unit tests, the singular tests
    and the tests of the unit-level models only on full builds (a first build, `--full-refresh`,
    `--all-tests`) and in CI (the selector `incremental_refresh`, dbt_project/selectors.yml).
    When the last complete build ran this project (`digest`) with these arguments, it also
    leaves out what no sync since then can have changed: it selects the nodes downstream of the
    raw tables those syncs wrote to, of the change log, and the incremental models (each takes
    in a sync only once those upstream of it have); with no table written, there is nothing to
    build."""
    args = list(args)
    if not _plain_build(args):
        return args, None
    con = connect(db, read_only=True)
    try:
        built = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = "
                            "'cadt_build' AND table_name = 'consumed_syncs'").fetchone()[0]
        if built:
            built = con.execute("SELECT count(*) > 0 FROM cadt_build.consumed_syncs"
                                ).fetchone()[0]
        last = (builds.since_last_build(con, args, digest, _schemas())
                if built and digest else None)
    finally:
        con.close()
    if not built:
        return args, None
    if last is not None and not last[1]:
        return args, last[0]
    sources = _sources(last[1]) if last is not None else None
    if sources is None:
        return [*args, "--selector", "incremental_refresh"], None
    return [*args, "--select", *sources, "source:cadt_mirror+", "config.materialized:incremental",
            "--exclude", *REFRESH_EXCLUDE], None


def _schemas() -> dict[str, str]:
    """Each data model's warehouse schema (its catalogue's)."""
    from pipelines.sync.data_models import CATALOGS

    return {version: catalog.schema for version, catalog in CATALOGS.items()}


def _sources(changed: set[tuple[str, str]]) -> list[str] | None:
    """dbt selection of what is downstream of each changed raw table (the sources are the
    catalogues' tables: pipelines/transform/sources_yaml.py); None for a table no catalogue
    declares (then nothing is left out)."""
    from pipelines.sync.data_models import CATALOGS

    by_schema = {catalog.schema: catalog for catalog in CATALOGS.values()}
    out = []
    for schema, table in sorted(changed):
        catalog = by_schema.get(schema)
        if catalog is None or table not in {t.name for t in catalog.tables}:
            return None
        out.append(f"source:cadt_{catalog.version}.{table}+")
    return out


def check_synced(db: Path) -> dict[str, int]:
    """The warehouse's generations; NeverSynced when no sync ever succeeded."""
    con = connect(db, read_only=True)
    try:
        ensure_mirror(con, db)
        try:
            synced = con.execute("SELECT count(*) FROM cadt_mirror.sync_runs WHERE status IN "
                                 "('success', 'partial')").fetchall()[0][0]
            gens = builds.generations(con)
        except duckdb.CatalogException:
            synced, gens = 0, {}
    finally:
        con.close()
    if not synced:
        raise NeverSynced(f"the warehouse {db} has never been synced, so there is nothing to "
                          "build the marts on: run `cadt-mirror sync` first")
    return gens


def run_build(db: Path, args: list[str], console: Console, *, verbose: bool = False,
              gens: dict[str, int] | None = None, all_tests: bool = False) -> BuildOutcome:
    """Run `dbt <args>` (a build) over `db`, print as asked, and record it in the warehouse.
    An incremental refresh runs the lighter tests only (`refresh_args`) unless `all_tests`."""
    digest = project_digest()
    run_args, repeated = (args, None) if all_tests else _refresh(db, args, digest)
    if repeated is not None:  # nothing new since it: the marts are current
        return BuildOutcome(code=0, skipped=repeated)
    out = BuildOutcome(code=2)
    # (the selector leaves out tests only: recorded as the build asked, of every mart)
    # JSON events on stdout, to read; dbt's usual text in logs/dbt.log
    cmd = [dbt_executable(),
           *dbt_args([*run_args, "--log-format", "json", "--log-format-file", "debug"])]
    env = {**dbt_env(db), "DBT_USE_COLORS": "false", "DBT_PRINTER_WIDTH": "80"}
    plain: list[str] = []  # lines that are not dbt events (tracebacks, warnings)
    tail: list[str] = []  # dbt's end-of-run summary: shown when the build failed
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            _take(line.rstrip("\n"), out, console, verbose, plain, tail)
        out.code = proc.wait()
    finally:
        if proc.poll() is None:  # interrupted: stop dbt too
            proc.terminate()
            proc.wait()
        out.finished_at = datetime.now(UTC)
        _record(db, out, args, gens or {}, digest)
    if not out.ok and not verbose:
        for line in [*tail, *plain[-40:]]:
            console.print(line, markup=False, highlight=False)
    return out


def _take(line: str, out: BuildOutcome, console: Console, verbose: bool, plain: list[str],
          tail: list[str]) -> None:
    try:
        event: dict[str, Any] = json.loads(line)
        info = event["info"]
    except (ValueError, KeyError, TypeError):
        plain.append(line)
        if verbose:
            console.print(line, markup=False, highlight=False)
        return
    out.invocation_id = out.invocation_id or info.get("invocation_id")
    level, name, msg = info.get("level"), info.get("name"), info.get("msg") or ""
    if level == "debug":
        return
    if name == "StatsLine":
        out.summary = msg
    if name == "LogTestResult" and level == "warn":
        out.warnings += 1
    if name == "EndOfRunSummary" or tail:
        tail.append(msg)
    if verbose:
        ts = str(info.get("ts", ""))[11:19]
        console.print(f"{ts}  {msg}" if msg else "", markup=False, highlight=False)
    elif level == "error" and not tail:
        console.print(msg, markup=False, highlight=False)


def _record(db: Path, out: BuildOutcome, args: list[str], gens: dict[str, int],
            digest: str) -> None:
    selecting = any(a.split("=", 1)[0] in SELECTING for a in args)
    try:
        con = connect(db)
    except WarehouseBusyError:  # unrecorded: the next publish takes the marts as not current
        return
    try:
        builds.record_build(con, invocation_id=out.invocation_id, started_at=out.started_at,
                            finished_at=out.finished_at or datetime.now(UTC), ok=out.ok,
                            selection=" ".join(args[1:]) if selecting else None, dbt_args=args,
                            gens=gens, project_digest=digest)
    finally:
        con.close()


def cmd_build(args: argparse.Namespace, console: Console) -> int:
    from pipelines.cli import EXIT_FAILED, EXIT_OK
    from pipelines.operate import print_published

    config.keep_snapshots()  # it publishes: checked before anything starts
    db = database_path(args.database).resolve()
    if not db.exists():
        console.print(f"no warehouse at {escape(str(db))} yet: run `cadt-mirror sync` first")
        return EXIT_FAILED
    try:
        gens = check_synced(db)
    except NeverSynced as e:
        console.print(escape(str(e)), soft_wrap=True)
        return EXIT_FAILED
    dbt = dbt_build_args(args.select, args.exclude, args.full_refresh, args.dbt_args)
    verbose = getattr(args, "verbose", False)
    console.print(f"dbt {escape(' '.join(dbt))} over {escape(str(db))}", soft_wrap=True)
    outcome = run_build(db, dbt, console, verbose=verbose, gens=gens,
                        all_tests=getattr(args, "all_tests", False))
    if not verbose:
        console.print(escape(outcome.line()), soft_wrap=True)
    if not outcome.ok:
        return EXIT_FAILED
    from pipelines.warehouse.publish import publish_file, read_published, serving_path

    serving = serving_path(db)
    if outcome.skipped is not None and serving.exists():
        published = read_published(serving) or {}
        built = outcome.skipped.invocation_id
        if built is not None and published.get("marts_invocation_id") == built:
            console.print(f"the serving copy {escape(str(serving))} already holds these marts "
                          f"(snapshot {published['snapshot_id']})", soft_wrap=True)
            return EXIT_OK
    print_published(publish_file(db, by="cadt-mirror build"), console)
    return EXIT_OK
