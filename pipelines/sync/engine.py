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
from datetime import UTC, datetime
from typing import Any

import duckdb
import orjson

from pipelines import crashpoints
from pipelines.source.catalog import Table
from pipelines.source.catalog_v1 import CURRENT_STATE_TABLES, PROJECTS, UNITS, V1
from pipelines.source.client import CadtClient, CadtError
from pipelines.sync import feed
from pipelines.sync.crawl import AuditLog, crawl_audit, crawl_keyset, fetch_by_keys, get_page
from pipelines.sync.lander import DbWorker, Lander
from pipelines.sync.settings import NullProgress, OrgReport, Progress, SyncReport, SyncSettings
from pipelines.warehouse import state as st
from pipelines.warehouse.db import connect
from pipelines.warehouse.landing import (
    RESUMABLE,
    RESUMABLE_SUFFIX,
    _lit,
    clear_batch,
    reset_staging,
    staged_counts,
    staging_name,
)
from pipelines.warehouse.merge import Counts, apply_batch, quarantine_batch
from pipelines.warehouse.publish import publish, serving_path
from pipelines.warehouse.schema import ensure_schema

log = logging.getLogger(__name__)
CATALOG = V1
ORGS_PATH = "/v1/organizations"
PICKLIST_PATH = "/v1/governance/meta/pickList"
UNIT_PRIO = 10  # labels/issuances seen under a project win over the copy nested in a unit
COUNT_MISMATCH = "count_mismatch"  # state mode that forces the next sync to re-snapshot


class FeedUntrusted(Exception):
    """The audit feed cannot be replayed from our position; the org must be re-snapshotted."""


def run_sync(settings: SyncSettings, progress: Progress | None = None) -> SyncReport:
    """Synchronous entry point used by the CLI and Dagster."""
    return asyncio.run(sync_async(settings, progress or NullProgress()))


async def sync_async(settings: SyncSettings, progress: Progress) -> SyncReport:
    now = datetime.now(UTC)
    sync_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    report = SyncReport(sync_id=sync_id, api_url=settings.api_url, started_at=now)
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
    try:
        ensure_schema(con, CATALOG)
        reset_staging(con, CATALOG)
        mode = "full-refresh" if settings.full_refresh else "incremental"
        st.start_run(con, sync_id, CATALOG.version, settings.api_url, mode)
        try:
            async with CadtClient(
                settings.api_url, settings.api_key, concurrency=settings.concurrency,
                timeout=settings.timeout, max_retries=settings.max_retries,
                backoff_base=settings.backoff_base,
            ) as client:
                try:
                    async with Lander(stage_db, CATALOG) as lander:
                        await _Sync(settings, client, db, lander, report, progress).run()
                finally:
                    report.requests = client.counters.requests
                    report.bytes = client.counters.bytes
                    report.retries = client.counters.retries
            failed = [o for o in report.orgs if o.mode == "failed"]
            report.status = "partial" if failed else "success"
            if failed:
                report.error = "; ".join(f"{o.name or o.org_uid}: {o.reason}" for o in failed)
        except Exception as e:  # recorded in sync_runs, re-raised by callers that want it
            report.status = "failed"
            report.error = f"{type(e).__name__}: {e}" if not isinstance(e, CadtError) else str(e)
            log.error("sync %s failed: %s", sync_id, report.error)
        report.finished_at = datetime.now(UTC)
        changed = sum(1 for o in report.orgs if o.mode not in ("unchanged",))
        await db.run(st.finish_run, sync_id, report.status, report.error, report.requests,
                     report.bytes, changed, _summary(report))
        moved = changed or report.pick_lists != "unchanged"
        if settings.publish and report.status == "success" and (
                moved or not serving_path(settings.database).exists()):
            target = await db.run(publish, settings.database)
            report.published_to = str(target)
    finally:
        stage_db.close()
        db.close()
        stage_db.con.close()
        con.close()
    return report


def _summary(report: SyncReport) -> dict[str, Any]:
    return {
        "orgs": {o.org_uid: {"name": o.name, "mode": o.mode, "from": o.generation_from,
                             "to": o.generation_to, "reason": o.reason,
                             "changes": o.changes, "quarantined": o.quarantined}
                 for o in report.orgs},
        "pick_lists": report.pick_lists,
        "retries": report.retries,
        "unknown_fields": report.unknown_fields,
    }


class _Sync:
    def __init__(self, settings: SyncSettings, client: CadtClient, db: DbWorker, lander: Lander,
                 report: SyncReport, progress: Progress) -> None:
        self.s = settings
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
        states = await self.db.run(st.load_states, CATALOG.version)
        due = any(self._verify_due(prev) for prev in states.values())
        use_etag = not (self.s.full_refresh or self.s.orgs or due)
        etag = await self.db.run(st.get_etag, ORGS_PATH) if use_etag else None
        resp = await self.client.get(ORGS_PATH, etag=etag)
        await self._pick_lists()
        if resp.not_modified:
            self.progress.log("organizations unchanged (304): nothing to do")
            self.report.orgs = [OrgReport(s.org_uid, None, "unchanged", s.generation, s.generation)
                                for s in states.values()]
            return
        org_map = _org_map(resp.data)
        if not org_map and states:
            # A node that is restarting or resyncing can list nobody for a while; deleting the
            # whole mirror on its word would be a disaster that the next sync has to undo.
            raise CadtError(f"{ORGS_PATH} lists no organizations while the mirror holds "
                            f"{len(states)}; nothing was changed (is the node resyncing?)")
        await self._land_organizations(org_map)

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
            await self.db.run(st.set_etag, ORGS_PATH, resp.etag)

    # -- organizations and pick lists -------------------------------------------------------

    async def _land_organizations(self, org_map: dict[str, dict[str, Any]]) -> None:
        await self._replace_small_table(CATALOG.table("organizations"), f"{self.sync_id}/orgs",
                                        list(org_map.values()), None, None)

    async def _pick_lists(self) -> None:
        etag = None if self.s.full_refresh else await self.db.run(st.get_etag, PICKLIST_PATH)
        resp = await self.client.get(PICKLIST_PATH, etag=etag)
        if resp.not_modified:
            self.report.pick_lists = "unchanged"
            return
        data = resp.data
        if not isinstance(data, dict) or not data:
            self.report.pick_lists = f"unexpected response ({type(data).__name__}): kept ours"
            log.warning("%s: %s", PICKLIST_PATH, self.report.pick_lists)
            return
        rows = [{"listName": name, "position": i,
                 "value": v if isinstance(v, str) else orjson.dumps(v).decode()}
                for name, values in data.items()
                for i, v in enumerate(values if isinstance(values, list) else [values])]
        await self._replace_small_table(CATALOG.table("pick_lists"), f"{self.sync_id}/picklists",
                                        rows, PICKLIST_PATH, resp.etag)
        self.report.pick_lists = f"{len(rows)} values in {len(data)} lists"

    async def _replace_small_table(self, table: Table, batch: str, records: list[Any],
                                   etag_url: str | None, etag: str | None) -> None:
        await self.lander.put(batch, table, table.name, records)
        await self.lander.flush(batch, table.name)

        def commit(con: duckdb.DuckDBPyConnection) -> None:
            con.execute("BEGIN")
            try:
                counts = apply_batch(con, CATALOG, table, batch, self.sync_id, scope="TRUE")
                quarantine_batch(con, CATALOG, batch, self.sync_id, None)
                st.record_changes(con, CATALOG.version, self.sync_id, "*", "snapshot",
                                  {table.name: counts.as_tuple()})
                if etag_url:
                    st.set_etag(con, etag_url, etag)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            clear_batch(con, CATALOG, batch)

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
                elif org.get("registryId") != prev.registry_id:
                    reason = "registryId changed"
                elif org.get("registryHash") == prev.registry_hash and not (
                        self._verify_due(prev) and await self._tail_moved(org_uid, prev)):
                    report.generation_to = prev.generation
                    return report
                elif org.get("registryHash") == prev.registry_hash:
                    reason = "audit feed rewritten under the same registryHash (audit reset)"
                else:
                    try:
                        await self._incremental(org_uid, org, prev, batch, report)
                        return report
                    except FeedUntrusted as e:
                        reason = f"audit feed not replayable: {e}"
                        await self.db.run(clear_batch, CATALOG, batch)
            else:
                reason = "full refresh" if prev is not None else "new organization"
            report.reason = reason
            self.progress.log(f"{name or org_uid}: snapshot ({reason})")
            await self._snapshot(org_uid, org, batch + RESUMABLE_SUFFIX, report)
        except Exception as e:
            report.mode = "failed"
            report.reason = str(e) if isinstance(e, CadtError) else f"{type(e).__name__}: {e}"
            log.error("org %s failed: %s", org_uid, report.reason)
            await self.db.run(clear_batch, CATALOG, batch)
            # the audit rows a snapshot already staged stay, for the next sync to resume from
            await self.db.run(clear_batch, CATALOG, batch + RESUMABLE_SUFFIX, True)
        return report

    async def _check_counts(self, org_map: dict[str, dict[str, Any]]) -> None:
        """After snapshots, compare per-org project/unit counts with the source (limit=1 gives
        the count as pageCount). A mismatch while the org did not move means rows were lost
        (e.g. unreadable records): re-snapshot once, then flag the org for the next sync."""
        snapshots = [o for o in self.report.orgs if o.mode == "snapshot"]
        if not snapshots:
            return
        fresh = _org_map((await self.client.get(ORGS_PATH)).data)
        for o in snapshots:
            for attempt in (1, 2):
                org = fresh.get(o.org_uid)
                if org is None or org.get("registryHash") != o.registry_hash:
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
                        await self.db.run(clear_batch, CATALOG, batch)
                        await self.db.run(_flag_state, o.org_uid)
                        break
                    o.reason = f"{o.reason}; {note}; re-snapshotted"
                else:
                    o.reason = f"{o.reason}; {note} again"
                    await self.db.run(_flag_state, o.org_uid)

    async def _count_problems(self, org_uid: str) -> list[str]:
        problems = []
        for table in (PROJECTS, UNITS):
            assert table.endpoint
            page = await get_page(self.client, table.endpoint,
                                  [("page", 1), ("limit", 1), ("orgUid", org_uid)])
            mine = await self.db.run(_count_rows, table.name, org_uid)
            if page.page_count != mine:
                problems.append(f"{table.name} source {page.page_count} mirror {mine}")
        return problems

    def _verify_due(self, prev: st.OrgState) -> bool:
        if self.s.verify or prev.verified_at is None:
            return True
        age = datetime.now(UTC) - prev.verified_at
        return age.total_seconds() > self.s.verify_every_hours * 3600

    async def _tail_moved(self, org_uid: str, prev: st.OrgState) -> bool:
        """One request: is the feed row at our position still ours, and nothing after it?"""
        if prev.audit_rows <= 0:
            return True
        params = [("orgUid", org_uid), ("page", prev.audit_rows), ("limit", 1), ("order", "ASC")]
        page = await get_page(self.client, "/v1/audit", params)
        row = page.records[0] if page.records else None
        moved = (page.page_count != prev.audit_rows or not isinstance(row, dict)
                 or row.get("id") != prev.last_audit_id)
        if not moved:
            await self.db.run(st.mark_verified, CATALOG.version, org_uid)
        return moved

    def _audit_sink(self, batch: str):
        audit = CATALOG.table("audit")

        async def sink(records: list[Any]) -> None:
            await self.lander.put(batch, audit, "audit", records)

        return sink

    def _page_sink(self, batch: str, table: Table, prio: int):
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
        report.registry_hash = rows.roots.get(target_gen) if kept else org.get("registryHash")
        new_state = st.OrgState(org_uid, org.get("registryId"), report.registry_hash, target_gen,
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
        prior = await self.db.run(_resume_backfill, org_uid, org.get("registryId"), batch)
        start = len(prior) if prior is not None else 0
        rows = await crawl_audit(self.client, org_uid, max(start - 1, 0), self._audit_sink(batch),
                                 page_size=self.s.page_size, on_page=self._counter(key),
                                 catalog=CATALOG)
        await self.lander.flush(batch, "audit")
        if prior is not None:
            if len(rows) and rows.ids[0] == prior.ids[-1]:
                prior.append_from(rows, skip=1)
                rows = prior
                report.reason = f"{report.reason}; audit backfill resumed at row {start}"
            else:  # the feed changed below the resumed rows: read it all again
                await self.db.run(clear_batch, CATALOG, batch)
                rows = await crawl_audit(self.client, org_uid, 0, self._audit_sink(batch),
                                         page_size=self.s.page_size, on_page=self._counter(key),
                                         catalog=CATALOG)
                await self.lander.flush(batch, "audit")
        self.progress.done(key)
        target_gen, kept = _target(rows, 0, org.get("registryHash"), None, strict=False)

        async def crawl(table: Table, prio: int) -> None:
            k = f"{org_uid}/{table.name}"
            self.progress.task(k, f"{label}: {table.name}")
            await crawl_keyset(self.client, table, org_uid, self._page_sink(batch, table, prio),
                               page_size=self.s.page_size, on_page=self._counter(k),
                               catalog=CATALOG)
            await self.lander.flush(batch, table.name)
            self.progress.done(k)

        await asyncio.gather(crawl(PROJECTS, 0), crawl(UNITS, UNIT_PRIO))
        return rows, target_gen, kept

    async def _incremental(self, org_uid: str, org: dict[str, Any], prev: st.OrgState,
                           batch: str, report: OrgReport) -> None:
        if prev.audit_rows <= 0 or prev.last_audit_id is None:
            raise FeedUntrusted("no audit position recorded")
        label = org.get("name") or org_uid[:12]
        key = f"{org_uid}/audit"
        self.progress.task(key, f"{label}: audit since generation {prev.generation}")
        rows = await crawl_audit(self.client, org_uid, prev.audit_rows - 1,
                                 self._audit_sink(batch), page_size=self.s.page_size,
                                 on_page=self._counter(key), catalog=CATALOG)
        self.progress.done(key)
        await self.lander.flush(batch, "audit")
        if not len(rows) or rows.ids[0] != prev.last_audit_id:
            raise FeedUntrusted("rows below our position changed (audit reset or rollback)")
        if rows.registry_ids - {None, prev.registry_id}:
            raise FeedUntrusted("registryId changed in the feed")
        target_gen, kept = _target(rows, 1, org.get("registryHash"), prev.generation, strict=True)

        await self.db.run(feed.build_events, CATALOG, batch, prev.generation, target_gen)
        projects, units = await self.db.run(feed.refetch_keys, CATALOG, batch)
        await asyncio.gather(
            fetch_by_keys(self.client, PROJECTS, org_uid, projects,
                          self._page_sink(batch, PROJECTS, 0), CATALOG),
            fetch_by_keys(self.client, UNITS, org_uid, units,
                          self._page_sink(batch, UNITS, UNIT_PRIO), CATALOG),
        )
        await self.lander.flush(batch, PROJECTS.name)
        await self.lander.flush(batch, UNITS.name)
        report.mode = "incremental"
        report.generation_to = target_gen
        new_state = st.OrgState(
            org_uid, prev.registry_id, rows.roots.get(target_gen) if kept else prev.registry_hash,
            target_gen, prev.audit_rows + kept,
            rows.ids[kept] if kept else prev.last_audit_id, sync_id=self.sync_id,
            mode="incremental")
        await self.db.run(self._commit, batch, org_uid, prev.generation, target_gen, new_state,
                          report, False)

    def _commit(self, con: duckdb.DuckDBPyConnection, batch: str, org_uid: str, after_gen: int,
                target_gen: int, new_state: st.OrgState, report: OrgReport,
                snapshot: bool) -> None:
        """Apply one org's staged batch, its audit rows and its new state atomically."""
        if snapshot:  # (incremental syncs built them before choosing what to re-read)
            feed.build_events(con, CATALOG, batch, after_gen, target_gen, children_only=True)
        feed.land_uncovered(con, CATALOG, batch)
        org = _lit(org_uid)
        b = _lit(batch)
        counts: dict[str, tuple[int, int, int]] = {}
        # Data and state commit together: no state means no rows of this org yet.
        fresh = snapshot and not con.execute(
            f"SELECT count(*) FROM {st.STATE} WHERE catalog_version = ? AND org_uid = ?",
            [CATALOG.version, org_uid]).fetchall()[0][0]
        staged = staged_counts(con, CATALOG, batch)
        crashpoints.hit("before_commit")
        con.execute("BEGIN")
        try:
            for name in CURRENT_STATE_TABLES:
                crashpoints.hit("mid_commit")
                table = CATALOG.table(name)
                if fresh and not staged[name].rows:  # nothing to add, nothing to replace
                    c = Counts()
                elif snapshot:
                    c = apply_batch(con, CATALOG, table, batch, self.sync_id,
                                    scope=f"t.org_uid = {org}", fresh=fresh)
                else:
                    c = apply_batch(con, CATALOG, table, batch, self.sync_id,
                                    scope=_incremental_scope(table, b),
                                    deleted=feed.deleted_keys_sql(batch, name))
                counts[name] = c.as_tuple()
            audit = CATALOG.table("audit")
            window = f"generation > {int(after_gen)} AND generation <= {int(target_gen)}"
            c = apply_batch(con, CATALOG, audit, batch, self.sync_id,
                            scope=f"t.org_uid = {org}" if snapshot else None,
                            staged_filter=window, fresh=fresh)
            counts["audit"] = c.as_tuple()
            q = quarantine_batch(con, CATALOG, batch, self.sync_id, org_uid,
                                 [n for n, c in staged.items() if c.with_issues])
            qe, unknown = feed.quarantine_events(con, CATALOG, batch, self.sync_id, org_uid,
                                                 after_gen, target_gen)
            report.quarantined = q + qe
            report.unknown_audit_tables = unknown
            self._collect_unknown_fields(con, batch, [n for n, c in staged.items() if c.with_extra])
            st.save_state(con, CATALOG.version, new_state)
            st.record_changes(con, CATALOG.version, self.sync_id, org_uid, report.mode, counts)
            for name in RESUMABLE:  # staged in the warehouse file: leave with the data
                con.execute(f"DELETE FROM {staging_name(CATALOG, CATALOG.table(name))} "
                            "WHERE _batch = ?", [batch])
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        crashpoints.hit("after_commit")
        report.changes = {k: v for k, v in counts.items() if any(v)}
        feed.drop_events(con, batch)
        # (the resumable rows left inside the transaction)
        clear_batch(con, CATALOG, batch, keep_resumable=True,
                    tables=[n for n, c in staged.items() if c.rows])

    def _collect_unknown_fields(self, con: duckdb.DuckDBPyConnection, batch: str,
                                tables: list[str]) -> None:
        for table in map(CATALOG.table, tables):
            names = con.execute(
                f"SELECT DISTINCT unnest(json_keys(_extra)) FROM {staging_name(CATALOG, table)} "
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
                for name in (*CURRENT_STATE_TABLES, "audit"):
                    n = con.execute(f"DELETE FROM {CATALOG.qualified(name)} WHERE org_uid = ?",
                                    [org_uid]).fetchone()[0]
                    counts[name] = (0, 0, n)
                st.delete_state(con, CATALOG.version, org_uid)
                st.record_changes(con, CATALOG.version, self.sync_id, org_uid, "removed", counts)
                con.execute("COMMIT")
            except BaseException:
                con.execute("ROLLBACK")
                raise
            return {k: v for k, v in counts.items() if any(v)}

        changes = await self.db.run(remove)
        self.progress.log(f"{org_uid}: removed from the source, its rows deleted")
        return OrgReport(org_uid, None, "removed", changes=changes)


def _resume_backfill(con: duckdb.DuckDBPyConnection, org_uid: str, registry_id: str | None,
                     batch: str) -> AuditLog | None:
    """Audit rows an earlier, unfinished snapshot of this org staged, relabelled to `batch`,
    as the log of what they are; None when there is nothing (usable) to resume."""
    stg = staging_name(CATALOG, CATALOG.table("audit"))
    mine = f"%/{org_uid}{RESUMABLE_SUFFIX}"
    found = con.execute(
        f"SELECT count(*), count(*) FILTER (WHERE registry_id IS DISTINCT FROM ?) FROM {stg} "
        "WHERE _batch LIKE ? AND _batch <> ?", [registry_id, mine, batch]).fetchall()[0]
    if not found[0] or found[1]:  # nothing, or rows of another registry store: start over
        con.execute(f"DELETE FROM {stg} WHERE _batch LIKE ? AND _batch <> ?", [mine, batch])
        return None
    con.execute(f"UPDATE {stg} SET _batch = ? WHERE _batch LIKE ?", [batch, mine])
    rows = con.sql(  # shaped like feed rows, so the log reads them as it reads a page
        "SELECT {'id': id, 'generation': generation, 'rootHash': root_hash, "
        f"'registryId': registry_id}} AS r FROM {stg} WHERE _batch = ? "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY _ref) = 1 ORDER BY _ref",
        params=[batch]).to_arrow_table()
    log_ = AuditLog(0)
    log_.add_page(0, rows.column("r").combine_chunks())
    return log_


def _count_rows(con: duckdb.DuckDBPyConnection, table: str, org_uid: str) -> int:
    return con.execute(f"SELECT count(*) FROM {CATALOG.qualified(table)} WHERE org_uid = ?",
                       [org_uid]).fetchall()[0][0]


def _flag_state(con: duckdb.DuckDBPyConnection, org_uid: str) -> None:
    con.execute(f"UPDATE {st.STATE} SET mode = ? WHERE catalog_version = ? AND org_uid = ?",
                [COUNT_MISMATCH, CATALOG.version, org_uid])


def _incremental_scope(table: Table, batch_lit: str) -> str | None:
    """Existing rows a re-read project fully describes (children missing from it are gone).

    Only project children: the API nests them by `warehouseProjectId`, so a re-read project shows
    all of them. A unit's `label_unit` rows are shown only while their label exists, so a re-read
    unit does not prove a missing one was deleted; those follow the feed's DELETE events only.
    """
    if table.parent_key != "warehouseProjectId":
        return None
    col = PROJECTS.key_columns[0]
    return (f"t.{col} IN (SELECT {col} FROM {staging_name(CATALOG, PROJECTS)} "
            f"WHERE _batch = {batch_lit} AND _source = 'api' AND {col} IS NOT NULL)")


def _org_map(data: Any) -> dict[str, dict[str, Any]]:
    """The organizations map (older docs wrap it in {"organizations": {...}})."""
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    if not isinstance(data, dict):
        raise CadtError(f"{ORGS_PATH}: expected an object keyed by orgUid, got {type(data).__name__}")
    out = {}
    for uid, org in data.items():
        if isinstance(org, dict):
            out[str(org.get("orgUid") or uid)] = org
    return out


def _target(rows: AuditLog, skip: int, target_hash: str | None, after_gen: int | None,
            strict: bool) -> tuple[int, int]:
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
    elif strict:
        raise FeedUntrusted("the organization's registryHash is not in the new audit rows")
    else:
        target = max(gens)
        log.warning("registryHash %s not found in the audit feed; using generation %d",
                    target_hash, target)
    kept = next((i for i, g in enumerate(gens) if g > target), len(gens))
    if any(g <= target for g in gens[kept:]):
        raise FeedUntrusted("audit rows are not in generation order")
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
