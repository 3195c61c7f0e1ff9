"""`cadt-mirror status`: what the warehouse holds per organization, how fresh, and (`--check`)
whether the node has moved since.

Lag is the time since the last *successful* sync that covered an organization, not since its
last change (a quiet organization synced a minute ago is a minute behind, not a week). `--check`
asks the node itself, with one conditional request to /v1/organizations carrying the ETag the
last sync stored: a 304 means nothing moved; otherwise each organization's registryHash is
compared with the one its rows are at. The table fits 80 columns.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from pipelines.source.catalog_v1 import V1
from pipelines.source.client import CadtClient, CadtError
from pipelines.warehouse import state as st
from pipelines.warehouse.db import WarehouseBusyError, connect, database_path, ensure_mirror
from pipelines.warehouse.freshness import OrgFreshness, freshness
from pipelines.warehouse.publish import serving_path

ORGS_PATH = V1.table("organizations").endpoint or "/v1/organizations"
NAME_WIDTH = 24


@dataclass(frozen=True)
class NodeAnswer:
    not_modified: bool = False
    hashes: dict[str, tuple[str | None, str | None]] | None = None  # uid: (name, hash)
    error: str | None = None


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--check", action="store_true",
                   help="ask the node whether anything moved since the last sync (one "
                        "conditional request to /v1/organizations)")


def cmd_status(args: argparse.Namespace, console: Console) -> int:
    from pipelines.cli import EXIT_FAILED, EXIT_OK

    console = Console(width=_width(console), soft_wrap=False)
    db = database_path(args.database)
    if not db.exists():
        console.print(f"no warehouse at {escape(str(db))} yet: run `cadt-mirror sync` first")
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
        ensure_mirror(con, db)
        orgs = freshness(con)
        last = con.execute(
            "SELECT sync_id, status, requests, error, api_url FROM cadt_mirror.sync_runs "
            "ORDER BY started_at DESC LIMIT 1").fetchall()
        good = con.execute("SELECT api_url FROM cadt_mirror.sync_runs WHERE status IN "
                           "('success', 'partial') ORDER BY finished_at DESC LIMIT 1").fetchall()
        quarantined = con.execute("SELECT count(*) FROM cadt_mirror.quarantine").fetchall()[0][0]
        node = _node_line(con)
        etag = st.get_etag(con, ORGS_PATH)
    finally:
        con.close()
    url = (good or last or [[None]])[0][-1]
    answer = asyncio.run(_ask(url, etag)) if args.check and url else None
    console.print(_table(orgs, answer, datetime.now(UTC), db))
    for line in _notes(orgs, answer, args.check, url):
        console.print(escape(line))
    if node:
        console.print(node)
    if last:
        sid, status, requests, error, _url = last[0]
        console.print(f"last run {sid}: {status}, {requests or 0} requests"
                      + (f", error: {escape(error)}" if error else ""))
    console.print(f"quarantined records: {quarantined}")
    return EXIT_FAILED if answer is not None and answer.error else EXIT_OK


def _width(console: Console) -> int:
    """The terminal's width, else $COLUMNS, else 80 (a pipe or a log)."""
    if console.is_terminal:
        return console.width
    try:
        return max(40, int(os.environ.get("COLUMNS", "80")))
    except ValueError:
        return 80


async def _ask(url: str, etag: str | None) -> NodeAnswer:
    try:
        async with CadtClient(url, os.environ.get("CADT_API_KEY"), max_retries=2,
                              timeout=30) as client:
            resp = await client.get(ORGS_PATH, etag=etag)
    except CadtError as e:
        return NodeAnswer(error=str(e))
    if resp.not_modified:
        return NodeAnswer(not_modified=True)
    data = resp.data
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    if not isinstance(data, dict):
        return NodeAnswer(error=f"{ORGS_PATH} answered {type(data).__name__}, not a map")
    return NodeAnswer(hashes={str(o.get("orgUid") or uid): (o.get("name"), o.get("registryHash"))
                              for uid, o in data.items() if isinstance(o, dict)})


def _moved(o: OrgFreshness, answer: NodeAnswer | None) -> str:
    if answer is None:
        return "behind" if o.landed_hash and o.landed_hash != o.registry_hash else "?"
    if answer.error:
        return "?"
    if answer.not_modified:
        return "no"
    if answer.hashes is None or o.org_uid not in answer.hashes:
        return "gone"
    return "no" if answer.hashes[o.org_uid][1] == o.registry_hash else "moved"


def _table(orgs: list[OrgFreshness], answer: NodeAnswer | None, now: datetime,
           db: object) -> RichTable:
    table = RichTable(title=f"warehouse {escape(str(db))}", title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("organization", no_wrap=True, overflow="ellipsis", max_width=NAME_WIDTH)
    for col in ("gen", "lag", "last change", "projects", "units"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("moved", no_wrap=True)
    for o in orgs:
        table.add_row(escape(o.name or o.org_uid[:16]), str(o.generation),
                      _ago(now, o.last_success), _ago(now, o.last_change), f"{o.projects:,}",
                      f"{o.units:,}", _moved(o, answer))
    return table


def _notes(orgs: list[OrgFreshness], answer: NodeAnswer | None, check: bool,
           url: str | None) -> list[str]:
    notes = ["lag: since the last successful sync; last change: since the last new generation"]
    if not check:
        notes.append("moved: `cadt-mirror status --check` asks the node")
    elif url is None:
        notes.append("moved: not asked, the warehouse has never reached a node")
    elif answer is not None and answer.error:
        notes.append(f"could not ask the node {st.public_url(url)}: {answer.error}")
    elif answer is not None and answer.not_modified:
        notes.append(f"the node {st.public_url(url)} answered 304: nothing moved since the "
                     "last sync")
    elif answer is not None and answer.hashes is not None:
        moved = sum(_moved(o, answer) == "moved" for o in orgs)
        held = {o.org_uid for o in orgs}
        new = [name or uid[:16] for uid, (name, _h) in answer.hashes.items() if uid not in held]
        notes.append(f"the node {st.public_url(url)}: {moved} organization(s) moved since the "
                     "last sync" + (f"; new there: {', '.join(new)}" if new else "")
                     + ("; `cadt-mirror sync` brings them in" if moved or new else ""))
    return notes


def _node_line(con: duckdb.DuckDBPyConnection) -> str | None:
    try:
        node = st.load_node(con)
    except duckdb.CatalogException:  # a warehouse from before nodes were recorded
        return None
    if node is None:
        return None
    details = [f"{label} {value}" for label, value in (
        ("governance body", node.governance_body), ("data model", node.datamodel_version),
        ("API", node.api_version)) if value]
    return f"node: {escape(node.api_url)}" + (f" ({', '.join(details)})" if details else "")


def _ago(now: datetime, ts: datetime | None) -> str:
    if ts is None:
        return "never"
    s = int(max(timedelta(0), now - ts).total_seconds())
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"
