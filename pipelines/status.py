"""`cadt-mirror status`: what the warehouse holds per organization, how fresh, and (`--check`)
whether the node has moved since.

Lag is the time since the last *successful* sync that covered an organization, not since its
last change (a quiet organization synced a minute ago is a minute behind, not a week). `--check`
asks the node itself, with one conditional request to /v1/organizations carrying the ETag the
last sync stored: a 304 means nothing moved; otherwise each organization's registryHash is
compared with the one its rows are at. The table fits 80 columns.

A warehouse that mirrors data model v2 too shows each organization's v2 store as its own row
(column `dm`: v1 / v2; an upgraded organization has both), and `--check` asks
/v2/organizations the same way (one more conditional request).
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
from pipelines.source.catalog_v2 import V2
from pipelines.source.client import CadtClient, CadtError
from pipelines.warehouse import state as st
from pipelines.warehouse.db import WarehouseBusyError, connect, database_path, ensure_mirror
from pipelines.warehouse.freshness import OrgFreshness, freshness
from pipelines.warehouse.publish import serving_path

ORGS_PATH = V1.table("organizations").endpoint or "/v1/organizations"
ORGS_PATHS = {"v1": ORGS_PATH, "v2": V2.table("organizations").endpoint or "/v2/organizations"}
SPELLINGS = {"v1": V1.spelling, "v2": V2.spelling}
NAME_WIDTH = 24


@dataclass(frozen=True)
class NodeAnswer:
    not_modified: bool = False
    hashes: dict[str, tuple[str | None, str | None]] | None = None  # uid: (name, hash)
    error: str | None = None


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("--check", action="store_true",
                   help="ask the node whether anything moved since the last sync (one "
                        "conditional request to /v1/organizations, and one to "
                        "/v2/organizations when the warehouse mirrors v2)")


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
        models = sorted({o.data_model for o in orgs} | {"v1"})
        etags = {m: st.get_etag(con, ORGS_PATHS[m]) for m in models}
        runs = _last_runs(con)
    finally:
        con.close()
    url = (good or last or [[None]])[0][-1]
    answers = {m: asyncio.run(_ask(url, etags[m], m)) for m in models} \
        if args.check and url else {}
    console.print(_table(orgs, answers, datetime.now(UTC), db))
    for line in _notes(orgs, answers, args.check, url):
        console.print(escape(line))
    if node:
        console.print(node)
    for model, (sid, status, requests, error) in runs.items():
        label = f" ({model})" if len(runs) > 1 else ""
        console.print(f"last run{label} {sid}: {status}, {requests or 0} requests"
                      + (f", error: {escape(error)}" if error else ""))
    console.print(f"quarantined records: {quarantined}")
    failed = any(a.error for a in answers.values())
    return EXIT_FAILED if failed else EXIT_OK


def _last_runs(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """The last run of each data model: {model: (sync_id, status, requests, error)}."""
    rows = con.execute(
        "SELECT coalesce(catalog_version, 'v1'), sync_id, status, requests, error "
        "FROM cadt_mirror.sync_runs QUALIFY row_number() OVER (PARTITION BY "
        "coalesce(catalog_version, 'v1') ORDER BY started_at DESC) = 1 ORDER BY 1").fetchall()
    return {r[0]: r[1:] for r in rows}


def _width(console: Console) -> int:
    """The terminal's width, else $COLUMNS, else 80 (a pipe or a log)."""
    if console.is_terminal:
        return console.width
    try:
        return max(40, int(os.environ.get("COLUMNS", "80")))
    except ValueError:
        return 80


async def _ask(url: str, etag: str | None, model: str = "v1") -> NodeAnswer:
    path, k = ORGS_PATHS[model], SPELLINGS[model]
    try:
        async with CadtClient(url, os.environ.get("CADT_API_KEY"), max_retries=2,
                              timeout=30) as client:
            resp = await client.get(path, etag=etag)
    except CadtError as e:
        return NodeAnswer(error=str(e))
    if resp.not_modified:
        return NodeAnswer(not_modified=True)
    data = resp.data
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    if not isinstance(data, dict):
        return NodeAnswer(error=f"{path} answered {type(data).__name__}, not a map")
    return NodeAnswer(hashes={str(o.get(k.org_uid) or uid): (o.get("name"), o.get(k.registry_hash))
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


def _table(orgs: list[OrgFreshness], answers: dict[str, NodeAnswer], now: datetime,
           db: object) -> RichTable:
    """One row per organization and data model; the `dm` column only when v2 is mirrored
    (the name column gives it the room, so the table still fits 80 columns)."""
    both = any(o.data_model != "v1" for o in orgs)
    table = RichTable(title=f"warehouse {escape(str(db))}", title_justify="left",
                      box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    table.add_column("organization", no_wrap=True, overflow="ellipsis",
                     max_width=NAME_WIDTH - 4 if both else NAME_WIDTH)
    if both:
        table.add_column("dm", no_wrap=True)
    for col in ("gen", "lag", "last change", "projects", "units"):
        table.add_column(col, justify="right", no_wrap=True)
    table.add_column("moved", no_wrap=True)
    for o in orgs:
        dm = [o.data_model] if both else []
        table.add_row(escape(o.name or o.org_uid[:16]), *dm, str(o.generation),
                      _ago(now, o.last_success), _ago(now, o.last_change), f"{o.projects:,}",
                      f"{o.units:,}", _moved(o, answers.get(o.data_model)))
    return table


def _notes(orgs: list[OrgFreshness], answers: dict[str, NodeAnswer], check: bool,
           url: str | None) -> list[str]:
    notes = ["lag: since the last successful sync; last change: since the last new generation"]
    if any(o.data_model != "v1" for o in orgs):
        notes.append("dm: the organization's data-model store (v1: schema cadt_v1, v2: "
                     "cadt_v2); an upgraded organization has a row for each")
    if not check:
        notes.append("moved: `cadt-mirror status --check` asks the node")
    elif url is None:
        notes.append("moved: not asked, the warehouse has never reached a node")
    for model, answer in answers.items():
        notes += _answer_notes(model, [o for o in orgs if o.data_model == model], answer, url,
                               len(answers) > 1)
    return notes


def _answer_notes(model: str, orgs: list[OrgFreshness], answer: NodeAnswer, url: str | None,
                  label: bool) -> list[str]:
    node = st.public_url(url or "")
    where = f"{node} ({ORGS_PATHS[model]})" if label else node
    if answer.error:
        return [f"could not ask the node {where}: {answer.error}"]
    if answer.not_modified:
        return [f"the node {where} answered 304: nothing moved since the last sync"]
    if answer.hashes is None:
        return []
    moved = sum(_moved(o, answer) == "moved" for o in orgs)
    held = {o.org_uid for o in orgs}
    new = [name or uid[:16] for uid, (name, _h) in answer.hashes.items() if uid not in held]
    return [f"the node {where}: {moved} organization(s) moved since the last sync"
            + (f"; new there: {', '.join(new)}" if new else "")
            + ("; `cadt-mirror sync` brings them in" if moved or new else "")]


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
