"""Sync of a catalogue whose tables are partitioned by node, not by organization (data model v2).

On a v2 node every organization's rows live in the same tables, and child routes select an
organization's rows only through their parents (AEF rows without a project, and standalone rows
created before 2026-02, belong to no `orgUid` at all). So the node is read as one whole:
every table of the catalogue (keyset where the route allows `filter`/`order`, else page
offsets) and every organization's audit feed, then committed in one transaction together with
each organization's new state. Offset pages are exact only while nothing changes; the read is
repeated when any organization's `registry_hash` moved while it ran.

A snapshot is taken on the first sync, on `--full-refresh`, and whenever the feeds cannot be
replayed (`node_feed.why_not`, `node_feed.FeedUntrusted`); otherwise `node_feed` brings the
tables up to date from the moved organizations' feeds.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines.source.client import CadtError
from pipelines.sync import node_feed
from pipelines.sync.crawl import AuditLog, PagesShifted, crawl_audit, crawl_keyset, crawl_offset
from pipelines.sync.feed import window_sql
from pipelines.sync.settings import OrgReport
from pipelines.warehouse import state as st
from pipelines.warehouse.landing import clear_batch, staged_counts
from pipelines.warehouse.merge import apply_batch, quarantine_batch

if TYPE_CHECKING:
    from pipelines.sync.engine import _Sync

ATTEMPTS = 3


async def sync(s: _Sync, org_map: dict[str, dict[str, Any]],
               states: dict[str, st.OrgState]) -> list[OrgReport]:
    """Bring the whole node's tables up to date; one report per organization."""
    k = s.cat.spelling
    why = node_feed.why_not(s, org_map, states) or await node_feed.rewritten(s, org_map, states)
    if why is None:
        if not node_feed.moved(s, org_map, states):
            return [_report(uid, org, "unchanged", states.get(uid))
                    for uid, org in org_map.items()]
        try:
            return await node_feed.sync(s, org_map, states)
        except node_feed.FeedUntrusted as e:
            why = f"feed not replayable: {e}"
            org_map = await s.org_map_now()
    s.progress.log(f"node-wide snapshot ({why})")
    for attempt in range(1, ATTEMPTS + 1):
        batch = f"{s.sync_id}/node/{attempt}"
        try:
            logs = await _read(s, org_map, batch)
        except PagesShifted as e:
            s.progress.log(f"{e} (attempt {attempt}); reading again")
            await s.db.run(clear_batch, s.cat, batch)
            continue
        after = await s.org_map_now()
        if _hashes(after, k.registry_hash) == _hashes(org_map, k.registry_hash):
            break
        s.progress.log(f"the node changed during the read (attempt {attempt}); reading again")
        await s.db.run(clear_batch, s.cat, batch)
        org_map = after
    else:
        raise CadtError(f"the node's organizations kept changing during {ATTEMPTS} reads of "
                        "its tables; nothing was changed (try again when it is quieter)")
    reports = [_report(uid, org, "snapshot", states.get(uid)) for uid, org in org_map.items()]
    for r in reports:
        r.reason = why
    whole = OrgReport("*", "the node's tables (every organization)", "snapshot")
    whole.reason = why
    await s.db.run(_commit, s, batch, org_map, logs, states, reports, whole)
    return [*reports, whole]


def _hashes(org_map: dict[str, dict[str, Any]], key: str) -> dict[str, Any]:
    return {uid: org.get(key) for uid, org in org_map.items()}


def _report(uid: str, org: dict[str, Any], mode: str, prev: st.OrgState | None) -> OrgReport:
    name = org.get("name") if isinstance(org.get("name"), str) else None
    report = OrgReport(uid, name, mode, prev.generation if prev else None,
                       prev.generation if prev else None)
    if mode == "snapshot":
        report.reason = "node-wide snapshot (the data model's tables are not per organization)"
    return report


async def _read(s: _Sync, org_map: dict[str, dict[str, Any]], batch: str
                ) -> dict[str, AuditLog]:
    """Stage every table of the node and every organization's feed into `batch`."""
    logs: dict[str, AuditLog] = {}

    async def table(t: Any) -> None:
        key = f"node/{t.name}"
        s.progress.task(key, f"{s.cat.version} {t.name}")
        crawl = crawl_keyset if t.read is not None and t.read.keyset else crawl_offset
        await crawl(s.client, t, None, s._page_sink(batch, t), page_size=s.s.page_size,
                    on_page=s._counter(key), catalog=s.cat)
        await s.lander.flush(batch, t.name)
        s.progress.done(key)

    async def feed(uid: str) -> None:
        key = f"{uid}/audit"
        s.progress.task(key, f"{org_map[uid].get('name') or uid[:12]}: audit history")
        logs[uid] = await crawl_audit(s.client, uid, 0, s._audit_sink(batch),
                                      page_size=s.s.page_size, on_page=s._counter(key),
                                      catalog=s.cat)
        s.progress.done(key)

    await asyncio.gather(*(table(t) for t in s.cat.crawled), *(feed(u) for u in org_map))
    await s.lander.flush(batch, "audit")
    return logs


def _commit(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str,
            org_map: dict[str, dict[str, Any]], logs: dict[str, AuditLog],
            states: dict[str, st.OrgState], reports: list[OrgReport], whole: OrgReport
            ) -> None:
    """Every table, every feed and every organization's state in one transaction."""
    from pipelines.sync.engine import _target  # (shared feed checks)

    k, cat = s.cat.spelling, s.cat
    staged = staged_counts(con, cat, batch)
    by_uid = {r.org_uid: r for r in reports}
    # each feed up to the generation its organization's map entry points at (later rows are
    # read again by the next sync, which starts from there)
    targets = {uid: _target(logs[uid], 0, org.get(k.registry_hash), None, strict=False,
                            ordered=False) for uid, org in org_map.items()}
    windows = [(uid, -1, t) for uid, (t, _) in targets.items()]
    con.execute("BEGIN")
    try:
        counts: dict[str, tuple[int, int, int]] = {}
        for table in cat.current_state:
            counts[table.name] = apply_batch(con, cat, table, batch, s.sync_id, scope="TRUE",
                                             record="*").as_tuple()
        counts["audit"] = apply_batch(con, cat, cat.table("audit"), batch, s.sync_id,
                                      scope="TRUE", staged_filter=window_sql(windows)
                                      ).as_tuple()
        quarantined = quarantine_batch(con, cat, batch, s.sync_id, None,
                                       [n for n, c in staged.items() if c.with_issues])
        for uid, org in org_map.items():
            rows = logs[uid]
            target, kept = targets[uid]
            st.save_state(con, cat.version, st.OrgState(
                uid, org.get(k.registry_id), org.get(k.registry_hash), target, kept,
                rows.ids[kept - 1] if kept else None, sync_id=s.sync_id, mode="snapshot"))
            by_uid[uid].generation_to = target
        for uid in set(states) - set(org_map):
            st.delete_state(con, cat.version, uid)
        st.record_changes(con, cat.version, s.sync_id, "*", "snapshot", counts)
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    whole.changes = {t: c for t, c in counts.items() if any(c)}
    whole.quarantined = quarantined
    clear_batch(con, cat, batch)
