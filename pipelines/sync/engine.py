"""One sync run: poll organizations, bring each changed org up to date, record the run.

Per organization, exactly one of:
- unchanged:   its `registryHash` equals the one we stored; costs no request;
- incremental: replay the audit generations since ours (re-read what changed, delete what was
               deleted); needs an unbroken feed, else falls back to
- snapshot:    read everything of the org (audit history, projects, units) and replace its rows.
Each org's data, audit rows and sync state are committed in one DuckDB transaction, so a sync
killed at any point leaves every org at its previous consistent generation.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from pipelines import changes, crashpoints
from pipelines.config import SettingError
from pipelines.source.catalog import Catalog, Spelling, Table
from pipelines.source.catalog_v1 import V1
from pipelines.source.client import CadtClient, CadtError
from pipelines.sync import feed, node_snapshot, reread
from pipelines.sync.crawl import (
    AuditLog,
    crawl_audit,
    crawl_keyset,
    fetch_by_keys,
    fetch_since,
    get_page,
)
from pipelines.sync.interrupts import StopOnSignal
from pipelines.sync.lander import DbWorker, Lander
from pipelines.sync.settings import NullProgress, OrgReport, Progress, SyncReport, SyncSettings
from pipelines.warehouse import state as st
from pipelines.warehouse.db import connect, ensure_mirror
from pipelines.warehouse.landing import (
    RESUMABLE,
    RESUMABLE_SUFFIX,
    _lit,
    clear_batch,
    reset_staging,
    staged_counts,
    staging_name,
)
from pipelines.warehouse.merge import ChangeLog, Counts, apply_batch, quarantine_batch
from pipelines.warehouse.publish import publish, serving_path
from pipelines.warehouse.schema import ensure_schema

log = logging.getLogger(__name__)
MAX_AUDIT_PAGE = 100_000  # the highest audit `page` newer nodes accept
COUNT_MISMATCH = "count_mismatch"  # state mode that forces the next sync to re-snapshot
# ... and the mode every state gets when the warehouse switches nodes: the new node's audit
# ids, node-local times and feed positions are its own, even where the registryHash is equal
NODE_SWITCHED = "node_switched"


class FeedUntrusted(Exception):
    """The audit feed cannot be replayed from our position; the org must be re-snapshotted."""


class WrongNode(Exception):
    """The warehouse mirrors another CADT node (see state.node_root) and no switch was asked."""


def run_sync(settings: SyncSettings, progress: Progress | None = None, *,
             handle_signals: bool = False, catalog: Catalog = V1) -> SyncReport:
    """Synchronous entry point used by the CLI and Dagster. With `handle_signals` (the CLI),
    SIGINT/SIGTERM stop the sync at its next safe point and the report says `interrupted`.
    `catalog`: the data model to mirror (its tables, endpoints and API spellings)."""
    return asyncio.run(sync_async(settings, progress or NullProgress(), handle_signals, catalog))


async def sync_async(settings: SyncSettings, progress: Progress,
                     handle_signals: bool = False, catalog: Catalog = V1) -> SyncReport:
    now = datetime.now(UTC)
    sync_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    report = SyncReport(sync_id=sync_id, api_url=st.public_url(settings.api_url), started_at=now)
    # The sync keeps two DuckDB threads of its own busy (staging, commits) next to the HTTP
    # loop and the page readers; DuckDB's own pool gets the rest of the cores (on 2 cores a
    # second pool thread measurably costs more than it brings).
    con = connect(settings.database, threads=max(1, (os.cpu_count() or 2) // 2))
    # Sparse checkpoints: each organization's commit would otherwise rewrite the file's blocks
    # once the WAL passes DuckDB's 16 MB default; the last one happens at publish or close.
    con.execute("SET checkpoint_threshold = '1GB'")
    db = DbWorker(con)
    # Pages are staged on a second cursor and thread, so landing goes on while an
    # organization commits (DuckDB runs both without the GIL).
    stage_db = DbWorker(con.cursor())
    with StopOnSignal((db, stage_db), enabled=handle_signals) as stop:
        try:
            try:
                _prepare(con, catalog, settings, sync_id)
                await _sync_and_record(catalog, settings, db, stage_db, report, progress)
            except (asyncio.CancelledError, duckdb.InterruptException):
                await _record_interrupt(db, report, stop.signal_name, catalog)
                if stop.signum is None:
                    raise  # cancelled by our caller: it wants to know
        finally:
            stage_db.close()
            db.close()
            stage_db.con.close()
            con.close()
    return report


def _prepare(con: duckdb.DuckDBPyConnection, catalog: Catalog, settings: SyncSettings,
             sync_id: str) -> None:
    """Refuse a foreign DuckDB file before writing to it; set up; record the run, after marking
    the runs a killed process left `running` as `abandoned` (we hold the only write lock)."""
    ensure_mirror(con, settings.database)
    ensure_schema(con, catalog)
    reset_staging(con, catalog)
    st.abandon_runs(con, sync_id)
    changes.prune(con, settings.changes_keep_days)
    mode = "full-refresh" if settings.full_refresh else "incremental"
    st.start_run(con, sync_id, catalog.version, settings.api_url, mode)


async def _sync_and_record(catalog: Catalog, settings: SyncSettings, db: DbWorker,
                           stage_db: DbWorker, report: SyncReport, progress: Progress) -> None:
    try:
        async with CadtClient(
            settings.api_url, settings.api_key, concurrency=settings.concurrency,
            timeout=settings.timeout, max_retries=settings.max_retries,
            backoff_base=settings.backoff_base,
            on_wait=lambda seconds, reason: progress.log(
                f"waiting {seconds:.0f} s for the node's rate-limit window ({reason})"),
        ) as client:
            try:
                async with Lander(stage_db, catalog) as lander:
                    await _Sync(settings, client, db, lander, report, progress, catalog).run()
            finally:
                report.requests = client.counters.requests
                report.bytes = client.counters.bytes
                report.retries = client.counters.retries
                report.rate_limited = client.counters.rate_limited
                report.paced_seconds = client.counters.paced_seconds
        failed = [o for o in report.orgs if o.mode == "failed"]
        report.status = "partial" if failed else "success"
        if failed:
            report.error = "; ".join(f"{o.name or o.org_uid}: {o.reason}" for o in failed)
    except Exception as e:  # recorded in sync_runs, re-raised by callers that want it
        report.status = "failed"
        report.bad_input = isinstance(e, SettingError)
        plain = isinstance(e, CadtError | SettingError | WrongNode)
        report.error = str(e) if plain else f"{type(e).__name__}: {e}"
        # (info: the report and sync_runs carry it, and callers show it once)
        log.info("sync %s failed: %s", report.sync_id, report.error)
    report.finished_at = datetime.now(UTC)
    changed = sum(1 for o in report.orgs if o.mode not in ("unchanged",))
    await db.run(st.finish_run, report.sync_id, report.status, report.error, report.requests,
                 report.bytes, changed, _summary(report))
    moved = changed or report.pick_lists != "unchanged"
    serving = settings.serving or serving_path(settings.database)
    if settings.publish and report.status == "success" and (moved or not serving.exists()):
        target = await db.run(publish, settings.database, serving)
        report.published_to = str(target)


async def _record_interrupt(db: DbWorker, report: SyncReport, signal_name: str | None,
                            catalog: Catalog) -> None:
    """Record the run as `interrupted`, with the organizations whose commits went through."""
    task = asyncio.current_task()
    if task is not None:
        task.uncancel()  # the cancellation did its work; the record still needs awaits
    db.halted = False  # (everything queued before is cancelled or failed by now)
    report.status = "interrupted"
    report.interrupted_by = signal_name or "cancellation"
    report.finished_at = datetime.now(UTC)
    report.committed = await db.run(st.committed_orgs, report.sync_id,
                                    catalog.qualified("organizations"))
    names = ", ".join(o["name"] or o["org_uid"] for o in report.committed) or "none"
    report.error = (f"interrupted by {report.interrupted_by}: organizations committed by this "
                    f"run: {names}; every other one keeps its previous state")
    summary = {**_summary(report), "interrupted_by": report.interrupted_by,
               "committed": report.committed}
    await db.run(st.finish_run, report.sync_id, "interrupted", report.error, report.requests,
                 report.bytes, len(report.committed), summary)


def _summary(report: SyncReport) -> dict[str, Any]:
    return {
        "orgs": {o.org_uid: {"name": o.name, "mode": o.mode, "from": o.generation_from,
                             "to": o.generation_to, "reason": o.reason,
                             "changes": o.changes, "quarantined": o.quarantined}
                 for o in report.orgs},
        "pick_lists": report.pick_lists,
        "retries": report.retries,
        "rate_limited": report.rate_limited,
        "paced_seconds": round(report.paced_seconds, 3),
        "reads": {o.org_uid: o.reads for o in report.orgs if o.reads},
        "unknown_fields": report.unknown_fields,
    }


class _Sync:
    def __init__(self, settings: SyncSettings, client: CadtClient, db: DbWorker, lander: Lander,
                 report: SyncReport, progress: Progress, catalog: Catalog = V1) -> None:
        self.s = settings
        self.cat = catalog
        self.k = catalog.spelling
        self.orgs_path = _endpoint(catalog, "organizations")
        self.picklist_path = _endpoint(catalog, "pick_lists")
        self.client = client
        self.db = db
        self.lander = lander
        self.report = report
        self.progress = progress
        self.sync_id = report.sync_id
        # Snapshots read at once: as many as requests in flight (a large one fills several
        # slots by itself). Reading every organization together would make them all finish
        # last and leave their commits to run one after another once the network is idle.
        self._reading = asyncio.Semaphore(max(2, settings.concurrency))

    async def run(self) -> None:
        switching = await self._check_node()
        if switching:
            await self.db.run(st.mark_states, NODE_SWITCHED)
        states = await self.db.run(st.load_states, self.cat.version)
        due = any(self._verify_due(prev) for prev in states.values())
        use_etag = not (self.s.full_refresh or self.s.orgs or due or switching)
        etag = await self.db.run(st.get_etag, self.orgs_path) if use_etag else None
        resp = await self.client.get(self.orgs_path, etag=etag)
        node = st.node_from_response(self.s.api_url, resp.headers)
        await self.db.run(st.save_node, node, self.sync_id)
        org_map = {} if resp.not_modified else _org_map(resp.data, self.orgs_path, self.k)
        _check_orgs(self.s.orgs, org_map, states)
        await self._pick_lists()
        if resp.not_modified:
            self.progress.log("organizations unchanged (304): nothing to do")
            self.report.orgs = [OrgReport(s.org_uid, None, "unchanged", s.generation, s.generation)
                                for s in states.values()]
            return
        if not org_map and states:
            # A node that is restarting or resyncing can list nobody for a while; deleting the
            # whole mirror on its word would be a disaster that the next sync has to undo.
            raise CadtError(f"{self.orgs_path} lists no organizations while the mirror holds "
                            f"{len(states)}; nothing was changed (is the node resyncing?)")
        await self._land_organizations(org_map)
        if self.cat.partition == "node":
            self.report.orgs = await node_snapshot.sync(self, org_map, states)
            if use_etag:
                await self.db.run(st.set_etag, self.orgs_path, resp.etag)
            return

        tasks = []
        for org_uid, org in org_map.items():
            if self.s.orgs and org_uid not in self.s.orgs:
                continue
            prev = states.get(org_uid)
            tasks.append(self._org(org_uid, org, prev))
        for org_uid in states:
            if org_uid not in org_map and (not self.s.orgs or org_uid in self.s.orgs):
                tasks.append(self._remove(org_uid))
        self.report.orgs = list(await asyncio.gather(*tasks))
        await self._check_counts(org_map)
        if use_etag and all(o.mode != "failed" for o in self.report.orgs):
            await self.db.run(st.set_etag, self.orgs_path, resp.etag)

    async def org_map_now(self) -> dict[str, dict[str, Any]]:
        """The node's organizations map as it is now (unconditional request)."""
        return _org_map((await self.client.get(self.orgs_path)).data, self.orgs_path, self.k)

    async def _check_node(self) -> bool:
        """Refuse, before any request, to sync a warehouse from a node other than the one it
        mirrors (that would replace its organizations) unless asked to; True when switching."""
        known = await self.db.run(st.load_node)
        here = st.node_root(self.s.api_url)
        if known is None or known.api_url == here:
            return False
        if not (self.s.switch_node or self.s.full_refresh):
            raise WrongNode(
                f"this warehouse mirrors the CADT node {known.api_url}, not {here}; pass "
                "--switch-node to make it mirror the new node (organizations that node does not "
                "list are removed), or use another --database")
        log.warning("switching node: %s -> %s", known.api_url, here)
        self.progress.log(f"switching node: {known.api_url} -> {here}")
        await self.db.run(st.note_switch, self.sync_id, known.api_url)
        return True

    # -- organizations and pick lists -------------------------------------------------------

    async def _land_organizations(self, org_map: dict[str, dict[str, Any]]) -> None:
        await self._replace_small_table(self.cat.table("organizations"), f"{self.sync_id}/orgs",
                                        list(org_map.values()), None, None)

    async def _pick_lists(self) -> None:
        etag = None if self.s.full_refresh else await self.db.run(st.get_etag, self.picklist_path)
        resp = await self.client.get(self.picklist_path, etag=etag)
        if resp.not_modified:
            self.report.pick_lists = "unchanged"
            return
        data = resp.data
        if not isinstance(data, dict) or not data:
            self.report.pick_lists = f"unexpected response ({type(data).__name__}): kept ours"
            log.warning("%s: %s", self.picklist_path, self.report.pick_lists)
            return
        rows = [{"listName": name, "position": i,
                 "value": v if isinstance(v, str) else orjson.dumps(v).decode()}
                for name, values in data.items()
                for i, v in enumerate(values if isinstance(values, list) else [values])]
        await self._replace_small_table(self.cat.table("pick_lists"), f"{self.sync_id}/picklists",
                                        rows, self.picklist_path, resp.etag)
        self.report.pick_lists = f"{len(rows)} values in {len(data)} lists"

    async def _replace_small_table(self, table: Table, batch: str, records: list[Any],
                                   etag_url: str | None, etag: str | None) -> None:
        await self.lander.put(batch, table, table.name, records)
        await self.lander.flush(batch, table.name)

        def commit(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("BEGIN")
            try:
                counts = apply_batch(con, self.cat, table, batch, self.sync_id, scope="TRUE",
                                     record="*")
                quarantine_batch(con, self.cat, batch, self.sync_id, None, [table.name])
                st.record_changes(con, self.cat.version, self.sync_id, "*", "snapshot",
                                  {table.name: counts.as_tuple()})
                if etag_url:
                    st.set_etag(con, etag_url, etag)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            clear_batch(con, self.cat, batch)

        await self.db.run(commit)

    # -- one organization -------------------------------------------------------------------

    async def _org(self, org_uid: str, org: dict[str, Any], prev: st.OrgState | None) -> OrgReport:
        name = org.get("name") if isinstance(org.get("name"), str) else None
        report = OrgReport(org_uid, name, "unchanged", prev.generation if prev else None)
        batch = f"{self.sync_id}/{org_uid}"
        try:
            if prev is not None and not self.s.full_refresh:
                if prev.mode == COUNT_MISMATCH:
                    reason = "source and mirror counts differed after the last snapshot"
                elif prev.mode == NODE_SWITCHED:
                    reason = "the warehouse switched to another node"
                elif org.get(self.k.registry_id) != prev.registry_id:
                    reason = "registryId changed"
                elif org.get(self.k.registry_hash) == prev.registry_hash and (
                        not self._verify_due(prev)
                        or (tail := await self._tail(org_uid, prev)) == "same"):
                    report.generation_to = prev.generation
                    return report
                elif org.get(self.k.registry_hash) == prev.registry_hash and tail == "rewritten":
                    reason = "audit feed rewritten under the same registryHash (audit reset)"
                else:
                    try:
                        grew = org.get(self.k.registry_hash) == prev.registry_hash
                        if grew:
                            report.reason = ("audit feed grew under an unchanged registryHash "
                                             "(the node has not published its new root)")
                            self.progress.log(f"{name or org_uid}: {report.reason}")
                        await self._incremental(org_uid, org, prev, batch, report, grew)
                        return report
                    except FeedUntrusted as e:
                        reason = f"audit feed not replayable: {e}"
                        await self.db.run(clear_batch, self.cat, batch)
            else:
                reason = "full refresh" if prev is not None else "new organization"
            report.reason = reason
            self.progress.log(f"{name or org_uid}: snapshot ({reason})")
            await self._snapshot(org_uid, org, batch + RESUMABLE_SUFFIX, report)
        except Exception as e:
            report.mode = "failed"
            report.reason = str(e) if isinstance(e, CadtError) else f"{type(e).__name__}: {e}"
            log.error("org %s failed: %s", org_uid, report.reason)
            await self.db.run(clear_batch, self.cat, batch)
            # the audit rows a snapshot already staged stay, for the next sync to resume from
            await self.db.run(clear_batch, self.cat, batch + RESUMABLE_SUFFIX, True)
        return report

    async def _check_counts(self, org_map: dict[str, dict[str, Any]]) -> None:
        """After snapshots, compare per-org project/unit counts with the source (limit=1 gives
        the count as pageCount). A mismatch while the org did not move means rows were lost
        (e.g. unreadable records): re-snapshot once, then flag the org for the next sync."""
        snapshots = [o for o in self.report.orgs if o.mode == "snapshot"]
        if not snapshots:
            return
        fresh = _org_map((await self.client.get(self.orgs_path)).data, self.orgs_path, self.k)
        for o in snapshots:
            for attempt in (1, 2):
                org = fresh.get(o.org_uid)
                if org is None or org.get(self.k.registry_hash) != o.registry_hash:
                    break  # the source moved on: the next incremental sync replays that
                problems = await self._count_problems(o.org_uid)
                if not problems:
                    break
                note = "count check: " + ", ".join(problems)
                log.warning("%s: %s", o.name or o.org_uid, note)
                if attempt == 1:
                    batch = f"{self.sync_id}/{o.org_uid}/recount{RESUMABLE_SUFFIX}"
                    try:
                        await self._snapshot(o.org_uid, org, batch, o)
                    except Exception as e:  # the first snapshot stays committed
                        o.reason = f"{o.reason}; {note}; re-read failed: {e}"
                        await self.db.run(clear_batch, self.cat, batch)
                        await self.db.run(_flag_state, self.cat, o.org_uid)
                        break
                    o.reason = f"{o.reason}; {note}; re-snapshotted"
                else:
                    o.reason = f"{o.reason}; {note} again"
                    await self.db.run(_flag_state, self.cat, o.org_uid)

    async def _count_problems(self, org_uid: str) -> list[str]:
        problems = []
        for table in self.cat.crawled:
            assert table.endpoint
            page = await get_page(self.client, table.endpoint,
                                  [("page", 1), ("limit", 1), ("orgUid", org_uid)])
            mine = await self.db.run(_count_rows, self.cat, table.name, org_uid)
            if page.page_count != mine:
                problems.append(f"{table.name} source {page.page_count} mirror {mine}")
        return problems

    def _verify_due(self, prev: st.OrgState) -> bool:
        if self.s.verify or prev.verified_at is None:
            return True
        age = datetime.now(UTC) - prev.verified_at
        return age.total_seconds() > self.s.verify_every_hours * 3600

    async def _tail(self, org_uid: str, prev: st.OrgState) -> str:
        """One request: is the feed row at our position still ours ("same" when nothing
        follows it, "grew" when rows do), or was the feed rewritten ("rewritten")?"""
        if prev.audit_rows <= 0:
            return "rewritten"
        # the smallest page holding our row whose number the node accepts (page <= 100000,
        # `src/validations/audit.validations.js` on newer builds)
        size = max(1, -(-prev.audit_rows // MAX_AUDIT_PAGE))
        number, index = (prev.audit_rows - 1) // size + 1, (prev.audit_rows - 1) % size
        params = [("orgUid", org_uid), ("page", number), ("limit", size), ("order", "ASC")]
        page = await get_page(self.client, self.cat.audit_endpoint, params)
        rows = list(page.records)
        row = rows[index] if index < len(rows) else None
        if (page.page_count < number or not isinstance(row, dict)
                or row.get("id") != prev.last_audit_id):
            return "rewritten"
        if len(rows) > index + 1 or page.page_count > number:
            return "grew"  # (verified when its rows commit: save_state stamps it)
        await self.db.run(st.mark_verified, self.cat.version, org_uid)
        return "same"

    def _audit_sink(self, batch: str):
        audit = self.cat.table("audit")

        async def sink(records: list[Any]) -> None:
            await self.lander.put(batch, audit, "audit", records)

        return sink

    def _page_sink(self, batch: str, table: Table):
        # what a table nests, seen under an earlier crawled table, wins over later copies
        # (a label under its project over the copy nested in a unit)
        prio = 10 * self.cat.crawled.index(table)

        async def sink(records: list[Any]) -> None:
            await self.lander.put(batch, table, table.name, records, prio)

        return sink

    def _counter(self, key: str):
        def on_page(n: int) -> None:
            self.progress.advance(key, n)

        return on_page

    async def _snapshot(self, org_uid: str, org: dict[str, Any], batch: str,
                        report: OrgReport) -> None:
        async with self._reading:
            rows, target_gen, kept = await self._read_snapshot(org_uid, org, batch, report)
        report.mode = "snapshot"
        report.generation_to = target_gen
        report.registry_hash = rows.roots.get(target_gen) if kept else org.get(self.k.registry_hash)
        new_state = st.OrgState(org_uid, org.get(self.k.registry_id), report.registry_hash, target_gen,
                                kept, rows.ids[kept - 1] if kept else None, sync_id=self.sync_id,
                                mode="snapshot")
        await self.db.run(self._commit, batch, org_uid, -1, target_gen, new_state, report, True)

    async def _read_snapshot(self, org_uid: str, org: dict[str, Any], batch: str,
                             report: OrgReport) -> tuple[AuditLog, int, int]:
        """Stage the org's whole audit history, projects and units; returns the audit log, the
        generation it reaches and how many of its rows that generation keeps."""
        label = org.get("name") or org_uid[:12]
        key = f"{org_uid}/audit"
        self.progress.task(key, f"{label}: audit history")
        prior = await self.db.run(_resume_backfill, self.cat, org_uid, org.get(self.k.registry_id), batch)
        start = len(prior) if prior is not None else 0
        rows = await crawl_audit(self.client, org_uid, max(start - 1, 0), self._audit_sink(batch),
                                 page_size=self.s.page_size, on_page=self._counter(key),
                                 catalog=self.cat)
        await self.lander.flush(batch, "audit")
        if prior is not None:
            if len(rows) and rows.ids[0] == prior.ids[-1]:
                prior.append_from(rows, skip=1)
                rows = prior
                report.reason = f"{report.reason}; audit backfill resumed at row {start}"
            else:  # the feed changed below the resumed rows: read it all again
                await self.db.run(clear_batch, self.cat, batch)
                rows = await crawl_audit(self.client, org_uid, 0, self._audit_sink(batch),
                                         page_size=self.s.page_size, on_page=self._counter(key),
                                         catalog=self.cat)
                await self.lander.flush(batch, "audit")
        self.progress.done(key)
        target_gen, kept = _target(rows, 0, org.get(self.k.registry_hash), None, strict=False)

        async def crawl(table: Table) -> None:
            k = f"{org_uid}/{table.name}"
            self.progress.task(k, f"{label}: {table.name}")
            await crawl_keyset(self.client, table, org_uid, self._page_sink(batch, table),
                               page_size=self.s.page_size, on_page=self._counter(k),
                               catalog=self.cat)
            await self.lander.flush(batch, table.name)
            self.progress.done(k)

        await asyncio.gather(*(crawl(t) for t in self.cat.crawled))
        return rows, target_gen, kept

    async def _incremental(self, org_uid: str, org: dict[str, Any], prev: st.OrgState,
                           batch: str, report: OrgReport, grew: bool = False) -> None:
        """Replay the feed since our position. `grew`: the feed has new rows while the org map
        still shows our registryHash; they are applied up to their last generation and the
        stored hash stays the node's."""
        if prev.audit_rows <= 0 or prev.last_audit_id is None:
            raise FeedUntrusted("no audit position recorded")
        label = org.get("name") or org_uid[:12]
        key = f"{org_uid}/audit"
        self.progress.task(key, f"{label}: audit since generation {prev.generation}")
        rows = await crawl_audit(self.client, org_uid, prev.audit_rows - 1,
                                 self._audit_sink(batch), page_size=self.s.page_size,
                                 on_page=self._counter(key), catalog=self.cat)
        self.progress.done(key)
        await self.lander.flush(batch, "audit")
        if not len(rows) or rows.ids[0] != prev.last_audit_id:
            raise FeedUntrusted("rows below our position changed (audit reset or rollback)")
        if rows.registry_ids - {None, prev.registry_id}:
            raise FeedUntrusted("registryId changed in the feed")
        published = org.get(self.k.registry_hash)
        if len(rows) == 1 and published and rows.roots.get(prev.generation) == published:
            # the node now publishes the root of the generation we already hold (after a feed
            # that grew under an unchanged hash): nothing to read, only the hash to store
            report.mode, report.generation_to = "incremental", prev.generation
            report.reason = "the node published the root of the generation the mirror holds"
            await self.db.run(_store_hash, self.cat, prev, published, self.sync_id)
            return
        target_gen, kept = _target(rows, 1, None if grew else org.get(self.k.registry_hash),
                                   prev.generation, strict=True)

        await self.db.run(feed.build_events, self.cat, batch, prev.generation, target_gen)
        plans = await self.db.run(reread.plan, self.cat, batch, org_uid, self.s.page_size,
                                  self.s.concurrency)
        await asyncio.gather(*(self._reread(org_uid, label, batch, p) for p in plans))
        report.reads = {p.table.name: p.summary() for p in plans if p.strategy != "none"
                        or p.feed_applied}
        report.mode = "incremental"
        report.generation_to = target_gen
        new_state = st.OrgState(
            org_uid, prev.registry_id,
            rows.roots.get(target_gen) if kept and not grew else prev.registry_hash,
            target_gen, prev.audit_rows + kept,
            rows.ids[kept] if kept else prev.last_audit_id, sync_id=self.sync_id,
            mode="incremental")
        await self.db.run(self._commit, batch, org_uid, prev.generation, target_gen, new_state,
                          report, False)

    async def _reread(self, org_uid: str, label: str, batch: str,
                      p: reread.TablePlan) -> None:
        """Bring one crawled table's changed records up to date as `p` planned; whatever the
        targeted reads were expected to return and did not is re-read by key once."""
        table, sink = p.table, self._page_sink(batch, p.table)
        if p.strategy == "keyset":
            k = f"{org_uid}/{table.name}"
            self.progress.task(k, f"{label}: {table.name} (re-read)")
            await crawl_keyset(self.client, table, org_uid, sink, page_size=self.s.page_size,
                               on_page=self._counter(k), catalog=self.cat)
            self.progress.done(k)
        elif p.strategy == "targeted":
            keys = list(p.by_key)
            if p.new and p.since:
                got = await fetch_since(self.client, table, org_uid, p.since, sink,
                                        page_size=self.s.page_size, catalog=self.cat)
                keys += [k for k in p.new if k not in got]
            else:
                keys += p.new
            await fetch_by_keys(self.client, table, org_uid, keys, sink, self.cat)
        await self.lander.flush(batch, table.name)

    def _commit(self, con: duckdb.DuckDBPyConnection, batch: str, org_uid: str, after_gen: int,
                target_gen: int, new_state: st.OrgState, report: OrgReport,
                snapshot: bool) -> None:
        """Apply one org's staged batch, its audit rows and its new state atomically."""
        if snapshot:  # (incremental syncs built them before choosing what to re-read)
            feed.build_events(con, self.cat, batch, after_gen, target_gen, children_only=True)
        feed.land_from_feed(con, self.cat, batch, crawled_too=not snapshot)
        org = _lit(org_uid)
        b = _lit(batch)
        counts: dict[str, tuple[int, int, int]] = {}
        # Data and state commit together: no state means no rows of this org yet.
        fresh = snapshot and not con.execute(
            f"SELECT count(*) FROM {st.STATE} WHERE catalog_version = ? AND org_uid = ?",
            [self.cat.version, org_uid]).fetchall()[0][0]
        staged = staged_counts(con, self.cat, batch)
        fresh_counts: dict[str, Counts] = {}  # logged together, in one statement
        crashpoints.hit("before_commit")
        con.execute("BEGIN")
        try:
            for table in self.cat.current_state:
                name = table.name
                crashpoints.hit("mid_commit")
                self.db.stop_point()
                if fresh and not staged[name].rows:  # nothing to add, nothing to replace
                    c = Counts()
                elif fresh:
                    c = fresh_counts[name] = apply_batch(
                        con, self.cat, table, batch, self.sync_id, scope=f"t.org_uid = {org}",
                        fresh=True)
                elif snapshot:
                    c = apply_batch(con, self.cat, table, batch, self.sync_id,
                                    scope=f"t.org_uid = {org}", fresh=fresh, record=org_uid)
                else:
                    c = apply_batch(con, self.cat, table, batch, self.sync_id,
                                    scope=_incremental_scope(self.cat, table, b),
                                    deleted=feed.deleted_keys_sql(batch, name), record=org_uid)
                counts[name] = c.as_tuple()
            ChangeLog.snapshots(con, self.cat, self.sync_id, org_uid, fresh_counts)
            audit = self.cat.table("audit")
            window = f"generation > {int(after_gen)} AND generation <= {int(target_gen)}"
            c = apply_batch(con, self.cat, audit, batch, self.sync_id,
                            scope=f"t.org_uid = {org}" if snapshot else None,
                            staged_filter=window, fresh=fresh)
            counts["audit"] = c.as_tuple()
            q = quarantine_batch(con, self.cat, batch, self.sync_id, org_uid,
                                 [n for n, c in staged.items() if c.with_issues])
            qe, unknown = feed.quarantine_events(con, self.cat, batch, self.sync_id, org_uid,
                                                 after_gen, target_gen)
            report.quarantined = q + qe
            report.unknown_audit_tables = unknown
            self._collect_unknown_fields(con, batch, [n for n, c in staged.items() if c.with_extra])
            st.save_state(con, self.cat.version, new_state)
            st.record_changes(con, self.cat.version, self.sync_id, org_uid, report.mode, counts)
            for name in RESUMABLE:  # staged in the warehouse file: leave with the data
                con.execute(f"DELETE FROM {staging_name(self.cat, self.cat.table(name))} "
                            "WHERE _batch = ?", [batch])
            self.db.stop_point()
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        crashpoints.hit("after_commit")
        report.changes = {k: v for k, v in counts.items() if any(v)}
        feed.drop_events(con, batch)
        # (the resumable rows left inside the transaction)
        clear_batch(con, self.cat, batch, keep_resumable=True,
                    tables=[n for n, c in staged.items() if c.rows])

    def _collect_unknown_fields(self, con: duckdb.DuckDBPyConnection, batch: str,
                                tables: list[str]) -> None:
        for table in map(self.cat.table, tables):
            names = con.execute(
                f"SELECT DISTINCT unnest(json_keys(_extra)) FROM {staging_name(self.cat, table)} "
                "WHERE _batch = ? AND _extra IS NOT NULL AND _source = 'api'",
                [batch],
            ).fetchall()
            if names:
                known = self.report.unknown_fields.setdefault(table.name, [])
                known.extend(n[0] for n in names if n[0] not in known)

    async def _remove(self, org_uid: str) -> OrgReport:
        """The org left the node's organization list: drop its rows and state."""

        def remove(con: duckdb.DuckDBPyConnection) -> dict[str, tuple[int, int, int]]:
            counts = {}
            con.execute("BEGIN")
            try:
                for name in (*(t.name for t in self.cat.current_state), "audit"):
                    if name != "audit":
                        ChangeLog(con, self.cat, self.cat.table(name), self.sync_id, org_uid
                                  ).deleted(self.cat.qualified(name), "t.org_uid = ?", [org_uid])
                    n = con.execute(f"DELETE FROM {self.cat.qualified(name)} WHERE org_uid = ?",
                                    [org_uid]).fetchone()[0]
                    counts[name] = (0, 0, n)
                st.delete_state(con, self.cat.version, org_uid)
                st.record_changes(con, self.cat.version, self.sync_id, org_uid, "removed", counts)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return {k: v for k, v in counts.items() if any(v)}

        changes = await self.db.run(remove)
        self.progress.log(f"{org_uid}: removed from the source, its rows deleted")
        return OrgReport(org_uid, None, "removed", changes=changes)


def _resume_backfill(con: duckdb.DuckDBPyConnection, catalog: Catalog, org_uid: str,
                     registry_id: str | None, batch: str) -> AuditLog | None:
    """Audit rows an earlier, unfinished snapshot of this org staged, relabelled to `batch`,
    as the log of what they are; None when there is nothing (usable) to resume."""
    stg = staging_name(catalog, catalog.table("audit"))
    k = catalog.spelling
    mine = f"%/{org_uid}{RESUMABLE_SUFFIX}"
    found = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE registry_id IS DISTINCT FROM ?) FROM {stg} "
        "WHERE _batch LIKE ? AND _batch <> ?", [registry_id, mine, batch]).fetchall()[0]
    if not found[0]:  # nothing to resume
        return None
    if found[1]:  # rows of another registry store: start over
        con.execute(f"DELETE FROM {stg} WHERE _batch LIKE ? AND _batch <> ?", [mine, batch])
        return None
    con.execute(f"UPDATE {stg} SET _batch = ? WHERE _batch LIKE ?", [batch, mine])
    rows = con.sql(  # shaped like feed rows, so the log reads them as it reads a page
        f"SELECT {{'id': id, 'generation': generation, '{k.root_hash}': root_hash, "
        f"'{k.registry_id}': registry_id}} AS r FROM {stg} WHERE _batch = ? "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _ref) = 1 ORDER BY _ref",
        params=[batch]).to_arrow_table()
    log_ = AuditLog(0, k)
    log_.add_page(0, rows.column("r").combine_chunks())
    return log_


def _store_hash(con: duckdb.DuckDBPyConnection, catalog: Catalog, prev: st.OrgState,
                registry_hash: str, sync_id: str) -> None:
    con.execute("BEGIN")
    try:
        st.save_state(con, catalog.version, replace(prev, registry_hash=registry_hash,
                                                    sync_id=sync_id, verified_at=None))
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


def _count_rows(con: duckdb.DuckDBPyConnection, catalog: Catalog, table: str,
                org_uid: str) -> int:
    return con.execute(f"SELECT count(*) FROM {catalog.qualified(table)} WHERE org_uid = ?",
                       [org_uid]).fetchall()[0][0]


def _flag_state(con: duckdb.DuckDBPyConnection, catalog: Catalog, org_uid: str) -> None:
    con.execute(f"UPDATE {st.STATE} SET mode = ? WHERE catalog_version = ? AND org_uid = ?",
                [COUNT_MISMATCH, catalog.version, org_uid])


def _incremental_scope(catalog: Catalog, table: Table, batch_lit: str) -> str | None:
    """Existing rows a re-read parent fully describes (children missing from it are gone).

    Only children nested as lists by their parent (project children: a re-read project shows
    all of them). A unit's `label_unit` rows are shown only while their label exists, so a
    re-read unit does not prove a missing one was deleted; those follow DELETE events only.
    """
    parent = catalog.parent_of(table)
    if parent is None or not any(n.table == table.name and n.many and not n.children
                                 for n in parent.nested):
        return None
    col = parent.key_columns[0]
    return (f"t.{col} IN (SELECT {col} FROM {staging_name(catalog, parent)} "
            f"WHERE _batch = {batch_lit} AND _source = 'api' AND {col} IS NOT NULL)")


def _check_orgs(wanted: tuple[str, ...], org_map: dict[str, dict[str, Any]],
                states: dict[str, st.OrgState]) -> None:
    """An --org the node does not list (and the mirror does not hold) is a typo, not an
    organization with nothing in it: say so, with the ones there are."""
    unknown = [o for o in wanted if o not in org_map and o not in states]
    if not unknown or not org_map:
        return
    known = "; ".join(f"{o.get('name') or '?'} ({uid})" for uid, o in
                      sorted(org_map.items(), key=lambda kv: str(kv[1].get("name"))))
    raise SettingError(f"--org {', '.join(unknown)}: not an organization of this node; "
                       f"known organizations: {known}")


def _org_map(data: Any, path: str, spelling: Spelling) -> dict[str, dict[str, Any]]:
    """The organizations map (older docs wrap it in {"organizations": {...}})."""
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    if not isinstance(data, dict):
        raise CadtError(f"{path}: expected an object keyed by orgUid, got {type(data).__name__}")
    out = {}
    for uid, org in data.items():
        if isinstance(org, dict):
            out[str(org.get(spelling.org_uid) or uid)] = org
    return out


def _target(rows: AuditLog, skip: int, target_hash: str | None, after_gen: int | None,
            strict: bool, ordered: bool = True) -> tuple[int, int]:
    """The generation the org map points at, and how many feed rows (after the first `skip`)
    lead up to it.

    Checks that those rows are a prefix of the feed and that no generation is missing. In strict
    mode (incremental) a target hash absent from the new rows means the feed cannot be trusted.
    """
    base = after_gen if after_gen is not None else -1
    gens = rows.gens[skip:]
    if not gens:
        if strict:
            raise FeedUntrusted("registryHash changed but the feed has no new rows")
        return base, 0
    present = set(gens)
    matches = [g for g, root in rows.roots.items() if target_hash and root == target_hash
               and g in present]
    if matches:
        target = max(matches)
    elif strict and target_hash is None:  # no root to aim at: the feed's own end
        target = max(gens)
    elif strict:
        raise FeedUntrusted("the organization's registryHash is not in the new audit rows")
    else:
        target = max(gens)
        log.warning("registryHash %s not found in the audit feed; using generation %d",
                    target_hash, target)
    kept = next((i for i, g in enumerate(gens) if g > target), len(gens))
    if any(g <= target for g in gens[kept:]):
        if strict or ordered:
            raise FeedUntrusted("audit rows are not in generation order")
        # (`ordered=False`: generations confirmed at the same time interleave in a feed
        # ordered by that time; the rows up to the target are not a prefix, so the next sync
        # cannot continue from a position and reads the node again)
        kept = sum(1 for g in gens if g <= target)
    if not strict:
        return target, kept
    seen = sorted(set(gens[:kept]))  # contiguity is checked on what we apply
    if after_gen is not None and seen and seen[0] <= after_gen:
        raise FeedUntrusted(f"generation {seen[0]} is not after our generation {after_gen}")
    first = after_gen + 1 if after_gen is not None else seen[0]
    if seen != list(range(first, target + 1)):
        missing = sorted(set(range(first, target + 1)) - set(seen))[:5]
        raise FeedUntrusted(f"generations missing from the feed: {missing}")
    return target, kept


def _endpoint(catalog: Catalog, table: str) -> str:
    endpoint = catalog.table(table).endpoint
    assert endpoint is not None, f"catalogue {catalog.version}: {table} has no endpoint"
    return endpoint
