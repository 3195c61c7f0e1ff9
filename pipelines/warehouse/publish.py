"""Publish the read-only serving copy of the warehouse for BI tools, as complete snapshots.

DuckDB lets one process write a file, or many processes read it, never both: a dashboard holding
the warehouse open would block the next sync, and a sync would lock the dashboard out. So each
publish writes a new dated snapshot beside the serving copy and then swaps it in by rename:

    <serving>.duckdb                         the copy BI tools open (read_only), a hard link to
    <serving>/current -> snapshots/<id>      the newest snapshot, swapped atomically, like this
    <serving>/snapshots/<id>/                cadt.duckdb  published.json  report.html
                                             parquet/<mart>.parquet

A reader that has the old file open keeps it; a new one gets the new file, never half of one.
A snapshot is complete: its raw tables and its marts come from the same refresh ("raw + marts"),
or it holds the raw tables alone ("raw only": a sync was published before the marts were rebuilt;
stale marts are left out rather than shown beside newer raw tables). `cadt_mirror.published` in
the copy, `published.json` and each Parquet file's metadata say what it holds: when, from which
node, at which generation per organization, with which marts build. The copy is written in
DuckDB's v1.0 storage format, so DuckDB 1.x readers (the CLI, JDBC, Node, Go drivers that BI
tools bundle) can open it too. The last CADT_MIRROR_KEEP_SNAPSHOTS snapshots (default 3) are kept.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from pipelines import config
from pipelines.warehouse import builds
from pipelines.warehouse.builds import MartsBuild
from pipelines.warehouse.db import connect

log = logging.getLogger(__name__)
RAW_AND_MARTS = "raw + marts"
RAW_ONLY = "raw only"
RAW_SCHEMAS = ("cadt_v1", "cadt_v2", "cadt_mirror")  # what a raw-only snapshot holds
PUBLISHED = "cadt_mirror.published"
STORAGE_VERSION = "v1.0.0"  # readable by every DuckDB since 0.10
COPY_NAME, REPORT_NAME, META_NAME = "cadt.duckdb", "report.html", "published.json"
AUTO = object()  # `marts=AUTO`: the build the warehouse recorded (builds.current_build)
_PUBLISHED_DDL = f"""
CREATE TABLE {{db}}.{PUBLISHED} (
    snapshot_id VARCHAR, published_at TIMESTAMPTZ, published_by VARCHAR, contents VARCHAR,
    node_url VARCHAR, governance_body VARCHAR, datamodel_version VARCHAR, api_version VARCHAR,
    last_sync_id VARCHAR, last_sync_finished_at TIMESTAMPTZ, raw_changed_at TIMESTAMPTZ,
    generations JSON, organizations JSON, marts_build VARCHAR, marts_invocation_id VARCHAR,
    marts_built_at TIMESTAMPTZ, marts JSON
)"""


@dataclass(frozen=True)
class Published:
    """A published snapshot: the serving copy, its dated directory and what it holds."""

    path: Path  # the serving copy BI tools open
    snapshot: Path  # <serving>/snapshots/<id>
    metadata: dict[str, Any]  # the row of cadt_mirror.published (also published.json)

    @property
    def report(self) -> Path:
        return self.snapshot / REPORT_NAME

    @property
    def current(self) -> Path:
        """The stable path of the newest snapshot's directory (a symlink)."""
        return self.snapshot.parent.parent / "current"

    def __str__(self) -> str:
        return str(self.path)


def serving_path(database: Path) -> Path:
    """$CADT_MIRROR_SERVING_DB, else `<warehouse>.serving.duckdb` next to the warehouse."""
    env = os.environ.get("CADT_MIRROR_SERVING_DB")
    if env:
        return Path(env)
    return database.with_name(database.stem + ".serving" + (database.suffix or ".duckdb"))


def serving_dir(target: Path) -> Path:
    """The directory of a serving copy's snapshots: its path without the suffix."""
    return target.with_suffix("") if target.suffix else target.with_name(target.name + ".d")


def publish(con: duckdb.DuckDBPyConnection, database: Path, target: Path | None = None) -> Path:
    """`publish_snapshot` for the sync engine, which holds the warehouse open: the path."""
    return publish_snapshot(con, database, target, by="cadt-mirror sync").path


def publish_file(database: Path, target: Path | None = None, **options: Any) -> Published:
    """`publish_snapshot` for a caller that does not hold the warehouse open (CLI, Dagster)."""
    con = connect(database)
    try:
        return publish_snapshot(con, database, target, **options)
    finally:
        con.close()


def publish_snapshot(con: duckdb.DuckDBPyConnection, database: Path,
                     target: Path | None = None, *, marts: Any = AUTO,
                     by: str = "cadt-mirror", keep: int | None = None) -> Published:
    """Write a complete snapshot of the open warehouse and swap it in as the serving copy.

    `marts`: the MartsBuild the warehouse's marts come from, None when they are not of the
    current raw tables (the snapshot is then raw only), or AUTO to ask `builds.current_build`.
    `keep`: snapshots to keep (default CADT_MIRROR_KEEP_SNAPSHOTS)."""
    target = Path(target) if target is not None else serving_path(Path(database))
    keep = config.keep_snapshots() if keep is None else config.keep_snapshots(str(keep))
    build = builds.current_build(con) if marts is AUTO else marts
    con.execute("CHECKPOINT")
    now = datetime.now(UTC)
    snapshot_id = f"{now:%Y-%m-%dT%H-%M-%S}.{now.microsecond // 1000:03d}Z"
    root = serving_dir(target)
    final = root / "snapshots" / snapshot_id
    work = final.with_name(f"{snapshot_id}.{os.getpid()}-{uuid.uuid4().hex[:6]}.tmp")
    work.mkdir(parents=True)
    try:
        meta = _describe(con, snapshot_id, now, by, build)
        _write_copy(con, work / COPY_NAME, meta)
        _write_exports(work, meta)
        work.rename(final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _swap(final, target)
    _prune(root, keep, final)
    for stale in [*target.parent.glob(f".{target.name}.*.tmp"), *root.glob(".current.*.tmp")]:
        stale.unlink(missing_ok=True)  # left by a publish that was killed
    return Published(target, final, meta)


def read_published(path: Path) -> dict[str, Any] | None:
    """The `cadt_mirror.published` row of a serving copy (None: a copy from before it)."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return _published_row(con)
    except duckdb.CatalogException:
        return None
    finally:
        con.close()


def is_serving_dir(path: Path) -> bool:
    """A directory that holds nothing but what publishing writes (for the demo's clean-up)."""
    return path.is_dir() and all(p.name in ("current", "snapshots") or p.name.startswith(
        ".current.") for p in path.iterdir())


# -- what the snapshot holds ----------------------------------------------------------------------


def _describe(con: duckdb.DuckDBPyConnection, snapshot_id: str, now: datetime, by: str,
              build: MartsBuild | None) -> dict[str, Any]:
    node = _one(con, "SELECT api_url, governance_body, datamodel_version, api_version "
                     "FROM cadt_mirror.node ORDER BY recorded_at DESC LIMIT 1")
    run = _one(con, "SELECT sync_id, finished_at FROM cadt_mirror.sync_runs "
                    "WHERE status IN ('success', 'partial') ORDER BY finished_at DESC LIMIT 1")
    orgs = [{"org_uid": uid, "name": name, "generation": gen, "registry_hash": h,
             "synced_at": _iso(at)} for uid, name, gen, h, at in _organizations(con)]
    marts = _marts(con) if build is not None else {}
    return {
        "snapshot_id": snapshot_id, "published_at": _iso(now), "published_by": by,
        "contents": RAW_AND_MARTS if build is not None else RAW_ONLY,
        "node_url": node[0], "governance_body": node[1], "datamodel_version": node[2],
        "api_version": node[3], "last_sync_id": run[0], "last_sync_finished_at": _iso(run[1]),
        "raw_changed_at": _iso(builds.raw_changed_at(con)),
        "generations": builds.generations(con),
        "organizations": orgs,
        "marts_build": build.describe() if build is not None else (
            "raw only: the marts are older than these raw tables, so they are left out; "
            "`cadt-mirror build` (or `run`) publishes them"),
        "marts_invocation_id": build.invocation_id if build is not None else None,
        "marts_built_at": _iso(build.started_at) if build is not None else None,
        "marts": marts,
    }


def _organizations(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(org_uid, name, generation, registry hash, last change) of the v1 mirror's organizations."""
    sql = ("SELECT s.org_uid, {name}, s.generation, s.registry_hash, s.synced_at "
           "FROM cadt_mirror.sync_state s {join} WHERE s.catalog_version = 'v1' ORDER BY 1")
    try:
        return con.execute(sql.format(name="o.name", join="LEFT JOIN cadt_v1.organizations o "
                                                          "USING (org_uid)")).fetchall()
    except duckdb.CatalogException:  # a warehouse of the v2 data model alone
        return con.execute(sql.format(name="NULL", join="")).fetchall()


def _marts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows of each table in schema marts (the Parquet exports)."""
    names = [r[0] for r in con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_catalog = "
        "current_database() AND table_schema = 'marts' AND table_type = 'BASE TABLE' "
        "ORDER BY 1").fetchall()]
    return {n: con.execute(f'SELECT count(*) FROM marts."{n}"').fetchall()[0][0] for n in names}


def _one(con: duckdb.DuckDBPyConnection, sql: str) -> tuple:
    try:
        rows = con.execute(sql).fetchall()
    except duckdb.CatalogException:  # a warehouse from before the table existed
        rows = []
    return rows[0] if rows else (None, None, None, None)


def _iso(ts: datetime | None) -> str | None:
    return ts.astimezone(UTC).isoformat(timespec="milliseconds") if ts else None


# -- writing it -----------------------------------------------------------------------------------


def _write_copy(con: duckdb.DuckDBPyConnection, path: Path, meta: dict[str, Any]) -> None:
    """The warehouse (raw + marts) or its raw schemas alone, and the published row, in a new
    file in the v1.0 storage format."""
    src = _ident(con.execute("SELECT current_database()").fetchall()[0][0])
    dst = "cadt_publish_" + uuid.uuid4().hex[:8]
    con.execute(f"ATTACH {_lit(str(path))} AS {dst} (STORAGE_VERSION '{STORAGE_VERSION}')")
    try:
        if meta["contents"] == RAW_AND_MARTS:
            con.execute(f"COPY FROM DATABASE {src} TO {dst}")
        else:
            for schema, table in con.execute(
                    "SELECT table_schema, table_name FROM information_schema.tables "
                    "WHERE table_catalog = current_database() AND table_type = 'BASE TABLE' "
                    f"AND table_schema IN {RAW_SCHEMAS} ORDER BY 1, 2").fetchall():
                con.execute(f"CREATE SCHEMA IF NOT EXISTS {dst}.{_ident(schema)}")
                con.execute(f"CREATE TABLE {dst}.{_ident(schema)}.{_ident(table)} AS "
                            f"FROM {src}.{_ident(schema)}.{_ident(table)}")
        con.execute(f"DROP TABLE IF EXISTS {dst}.{PUBLISHED}")
        con.execute(_PUBLISHED_DDL.format(db=dst))
        cols = list(meta)
        con.execute(f"INSERT INTO {dst}.{PUBLISHED} ({', '.join(cols)}) VALUES "
                    f"({', '.join('?' * len(cols))})",
                    [json.dumps(v) if isinstance(v, dict | list) else v for v in meta.values()])
    finally:
        con.execute(f"DETACH {dst}")


def _write_exports(work: Path, meta: dict[str, Any]) -> None:
    """From the new copy: Parquet files of the marts, published.json and the HTML report."""
    text = json.dumps(meta, indent=2)
    con = duckdb.connect(str(work / COPY_NAME), read_only=True)
    try:
        con.execute("SET TimeZone = 'UTC'")
        if meta["marts"]:
            (work / "parquet").mkdir()
        for mart in meta["marts"]:
            out = work / "parquet" / f"{mart}.parquet"
            con.execute(f"COPY marts.{_ident(mart)} TO {_lit(str(out))} (FORMAT parquet, "
                        f"KV_METADATA {{cadt_mirror_published: {_lit(text)}}})")
        (work / META_NAME).write_text(text + "\n", encoding="utf-8")
        try:
            from pipelines.report import write_report  # plotly: only when publishing

            write_report(con, meta, work / REPORT_NAME)
        except Exception:  # a chart's bug must not hold back the data
            log.warning("the HTML report could not be written", exc_info=True)
    finally:
        con.close()


def _swap(snapshot: Path, target: Path) -> None:
    """Point the serving copy and `current` at the new snapshot, each by one rename."""
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        try:
            os.link(snapshot / COPY_NAME, tmp)
        except OSError:  # a file system without hard links
            shutil.copyfile(snapshot / COPY_NAME, tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    link = snapshot.parent.parent / "current"
    tmp_link = link.with_name(f".current.{os.getpid()}.tmp")
    tmp_link.unlink(missing_ok=True)
    os.symlink(Path("snapshots") / snapshot.name, tmp_link)
    os.replace(tmp_link, link)


def _prune(root: Path, keep: int, newest: Path) -> None:
    """Keep the `keep` newest snapshots (always the one just published); drop leftovers of
    publishes that died."""
    snapshots = sorted(p for p in (root / "snapshots").iterdir() if p.is_dir())
    done = [p for p in snapshots if not p.name.endswith(".tmp")]
    for p in [*done[:-keep], *(p for p in snapshots if p.name.endswith(".tmp"))]:
        if p != newest:
            shutil.rmtree(p, ignore_errors=True)


def _published_row(con: duckdb.DuckDBPyConnection) -> dict[str, Any] | None:
    cur = con.execute(f"SELECT * FROM {PUBLISHED}")
    names = [d[0] for d in cur.description]
    rows = cur.fetchall()
    if not rows:
        return None
    row = dict(zip(names, rows[0], strict=True))
    for key in ("generations", "organizations", "marts"):
        row[key] = json.loads(row[key]) if row[key] is not None else None
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = _iso(value)
    return row


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
