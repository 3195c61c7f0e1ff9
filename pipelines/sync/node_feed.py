"""Incremental sync of a catalogue partitioned by node (data model v2): replay the feeds of the
organizations whose registry moved, read only what the feed cannot give, commit it all at once.

The v2 feed names each changed record by its DataLayer key and carries its value with the
column names as keys (`src/tasks/sync-registries-v2.js`). A node stores that value with two
times of its own: `updated_at`, when it first ingested the key (kept on later edits), and, on
tables whose model has no `createdAt` attribute, `created_at`. So:

- an edit of a record the mirror holds whose value is complete and typed as the node keeps it
  is applied from the feed, keeping the stored node times (no request; `reread.plan`);
- new records are read where the node shows them: `/v2/project` and `/v2/unit` by
  `filter=updated_at:<newest held - 1 s>:gt`, the other routes (no `filter`) one record a
  request (`GET /v2/<resource>/<key>`, 404 = gone), or the whole table by page when that
  costs fewer requests;
- a DELETE row whose value DataLayer did not send names no record. A table with such rows
  takes none of its values from the feed (the key may have been inserted again, with new
  node times), its held records under a deleted record are re-read by key (`_implied`), and
  its row count is checked against the node's (`limit=1`: one request; per organization on
  tables whose `orgUid` is their own column); on a difference the table (or that
  organization's rows of it) is read again whole.

The node's tables are shared by every organization, so the read is consistent only if no
registry moved while it ran: the organizations map is read again after it, and the whole
replay is repeated when a hash moved. Anything the feeds cannot explain (a rewritten feed, a
missing generation, an organization gone, a new registry) raises `FeedUntrusted`: the caller
takes a node-wide snapshot instead.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import duckdb

from pipelines import crashpoints
from pipelines.source.catalog import Table
from pipelines.source.client import CadtError
from pipelines.sync import feed, reread
from pipelines.sync.crawl import (
    AuditLog,
    PagesShifted,
    count_rows,
    crawl_audit,
    crawl_keyset,
    crawl_offset,
    fetch_by_keys,
    fetch_by_path,
    fetch_since,
    get_page,
)
from pipelines.sync.settings import OrgReport
from pipelines.warehouse import state as st
from pipelines.warehouse.landing import _lit, clear_batch, staged_counts, staging_name
from pipelines.warehouse.merge import apply_batch, key_expr, quarantine_batch

if TYPE_CHECKING:
    from pipelines.sync.engine import _Sync

ATTEMPTS = 3
REPLAYABLE_MODES = ("snapshot", "incremental")


class FeedUntrusted(Exception):
    """The feeds cannot be replayed onto the mirror: take a snapshot."""


def why_not(s: _Sync, org_map: dict[str, dict[str, Any]],
            states: dict[str, st.OrgState]) -> str | None:
    """Why the mirror cannot be brought up to date from the feeds (None: it can)."""
    k = s.cat.spelling
    if s.s.full_refresh:
        return "full refresh"
    if not states:
        return "first sync of the node's tables"
    gone = sorted(set(states) - set(org_map))
    if gone:
        return f"organization {gone[0]} left the node (its rows may stay in shared tables)"
    for uid, prev in states.items():
        if prev.mode not in REPLAYABLE_MODES:
            return f"organization {uid}: state {prev.mode}"
        if org_map[uid].get(k.registry_id) != prev.registry_id:
            return f"organization {uid}: registry_id changed"
        if prev.audit_rows <= 0:
            return f"organization {uid}: no audit position recorded"
    return None


def moved(s: _Sync, org_map: dict[str, dict[str, Any]],
          states: dict[str, st.OrgState]) -> list[str]:
    """Organizations whose registry moved since the mirror's state (or that are new)."""
    h = s.cat.spelling.registry_hash
    return [uid for uid, org in org_map.items()
            if uid not in states or org.get(h) != states[uid].registry_hash]


async def rewritten(s: _Sync, org_map: dict[str, dict[str, Any]],
                    states: dict[str, st.OrgState]) -> str | None:
    """Check, for each unmoved organization whose check is due, that the feed row at the
    mirror's position is still one the mirror holds (an audit reset re-creates rows under an
    unchanged registry_hash): one request each. The reason for a snapshot, or None."""
    due = [u for u in org_map if u in states and u not in moved(s, org_map, states)
           and s._verify_due(states[u])]

    async def check(uid: str) -> str | None:
        prev = states[uid]
        row, _ = await _row_at(s, uid, prev.audit_rows - 1)
        if (not isinstance(row, dict) or row.get("generation") != prev.generation
                or row.get("id") not in await s.db.run(_held_ids, s, uid, prev.generation)):
            return f"organization {uid}: audit feed rewritten under the same registry_hash"
        await s.db.run(st.mark_verified, s.cat.version, uid)
        return None

    found = [r for r in await asyncio.gather(*(check(u) for u in due)) if r]
    return found[0] if found else None


@dataclass
class _Tail:
    """One organization's new feed rows: the window to apply and the state after it."""

    uid: str
    after: int
    target: int
    state: st.OrgState
    beyond: bool = False  # the feed has rows past the target (the node ingested more)


@dataclass
class _Read:
    """What was read for one table: whole (the node's table in full) or these keys."""

    table: Table
    whole: bool = False
    whole_orgs: set[str] = field(default_factory=set)  # organizations whose rows were re-read
    asked: set[str] | None = None
    served: set[str] | None = None
    summary: str = ""

    @property
    def gone(self) -> list[str]:
        return sorted((self.asked or set()) - (self.served or set()))


async def sync(s: _Sync, org_map: dict[str, dict[str, Any]],
               states: dict[str, st.OrgState]) -> list[OrgReport]:
    """Replay the moved organizations' feeds; one report per organization and one for the
    node's tables. Raises FeedUntrusted when a snapshot is needed."""
    for attempt in range(1, ATTEMPTS + 1):
        batch = f"{s.sync_id}/node-feed/{attempt}"
        uids = moved(s, org_map, states)
        try:
            tails = await asyncio.gather(*(_tail(s, batch, u, org_map[u], states.get(u))
                                           for u in uids))
            reads = await _reads(s, batch, tails, org_map, states)
        except PagesShifted as e:
            s.progress.log(f"{e} (attempt {attempt}); reading again")
            await s.db.run(_discard, s, batch)
            continue
        except BaseException:
            await s.db.run(_discard, s, batch)
            raise
        after = await s.org_map_now()
        if _hashes(s, after) == _hashes(s, org_map):
            break
        s.progress.log(f"the node changed during the read (attempt {attempt}); reading again")
        await s.db.run(_discard, s, batch)
        org_map = after
        if why := why_not(s, org_map, states):
            raise FeedUntrusted(why)
    else:
        raise CadtError(f"the node's organizations kept changing during {ATTEMPTS} replays of "
                        "their feeds; nothing was changed (try again when it is quieter)")
    reports = {u: _report(u, org, states.get(u)) for u, org in org_map.items()}
    for t in tails:
        reports[t.uid].mode, reports[t.uid].generation_to = "incremental", t.target
    whole = OrgReport("*", "the node's tables (every organization)", "incremental")
    whole.reads = {r.table.name: r.summary for r in reads if r.summary}
    await s.db.run(_commit, s, batch, tails, reads, whole)
    return [*reports.values(), whole]


def _hashes(s: _Sync, org_map: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {u: org.get(s.cat.spelling.registry_hash) for u, org in org_map.items()}


def _report(uid: str, org: dict[str, Any], prev: st.OrgState | None) -> OrgReport:
    name = org.get("name") if isinstance(org.get("name"), str) else None
    gen = prev.generation if prev else None
    return OrgReport(uid, name, "unchanged", gen, gen)


def _discard(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str) -> None:
    feed.drop_events(con, batch)
    clear_batch(con, s.cat, batch)


async def _tail(s: _Sync, batch: str, uid: str, org: dict[str, Any],
                prev: st.OrgState | None) -> _Tail:
    """Read an organization's feed from the last row the mirror holds (all of it if new).

    v2 audit pages are ordered by confirmation time only, so the rows of one generation come
    in any order: our position is checked by generation (and by the ids the mirror holds of
    it), not by the id of one row."""
    from pipelines.sync.engine import FeedUntrusted as EngineUntrusted
    from pipelines.sync.engine import _target

    k = s.cat.spelling
    key = f"{uid}/audit"
    label = org.get("name") or uid[:12]
    s.progress.task(key, f"{label}: audit since generation "
                         f"{prev.generation if prev else 'start'}")
    start = prev.audit_rows - 1 if prev else 0
    rows = await crawl_audit(s.client, uid, start, s._audit_sink(batch),
                             page_size=s.s.page_size, on_page=s._counter(key), catalog=s.cat)
    s.progress.done(key)
    await s.lander.flush(batch, "audit")
    if prev is not None:
        if not len(rows) or rows.gens[0] != prev.generation:
            raise FeedUntrusted(f"{label}: the feed no longer holds generation "
                                f"{prev.generation} where the mirror left it (audit reset)")
        held = await s.db.run(_held_ids, s, uid, prev.generation)
        if rows.ids[0] not in held:
            raise FeedUntrusted(f"{label}: audit rows of generation {prev.generation} were "
                                "re-created (audit reset)")
    if rows.registry_ids - {None, org.get(k.registry_id)}:
        raise FeedUntrusted(f"{label}: registry_id changed in the feed")
    skip = 1 if prev is not None else 0
    try:
        target, kept = _target(rows, skip, org.get(k.registry_hash),
                               prev.generation if prev else None, strict=True)
    except EngineUntrusted as e:
        raise FeedUntrusted(f"{label}: {e}") from None
    held_rows = prev.audit_rows if prev else 0
    state = st.OrgState(
        uid, org.get(k.registry_id), org.get(k.registry_hash), target, held_rows + kept,
        _last_id(rows, skip, kept, prev), sync_id=s.sync_id, mode="incremental")
    return _Tail(uid, prev.generation if prev else -1, target, state,
                 beyond=len(rows) - skip > kept)


def _last_id(rows: AuditLog, skip: int, kept: int, prev: st.OrgState | None) -> int | None:
    if kept:
        return rows.ids[skip + kept - 1]
    return prev.last_audit_id if prev else None


def _held_ids(con: duckdb.DuckDBPyConnection, s: _Sync, uid: str, generation: int) -> set[int]:
    return {r[0] for r in con.execute(
        f"SELECT id FROM {s.cat.qualified('audit')} WHERE org_uid = ? AND generation = ?",
        [uid, generation]).fetchall()}


async def _reads(s: _Sync, batch: str, tails: list[_Tail], org_map: dict[str, dict[str, Any]],
                 states: dict[str, st.OrgState]) -> list[_Read]:
    """Plan from the feeds' net events and read what they cannot give."""
    windows = [(t.uid, t.after, t.target) for t in tails]
    keyless = await s.db.run(_events, s, batch, windows)
    implied = await s.db.run(_implied, s, batch)
    plans = await s.db.run(reread.plan, s.cat, batch, None, s.s.page_size, s.s.concurrency,
                           frozenset(keyless), implied)
    reads = await asyncio.gather(*(_read(s, batch, p) for p in plans))
    checks = [(r, org) for r in reads if r.table.name in keyless and not r.whole
              for org in (sorted(keyless[r.table.name]) if _owned(r.table) else [None])]
    if not checks:
        return reads
    counts = await asyncio.gather(*(_counts(s, batch, r, org) for r, org in checks))
    # equal counts prove that no record went unnamed only if no insert went unseen either:
    # no feed (moved or not) may hold rows past what this replay applies
    proven = not any(t.beyond for t in tails) and not await _feeds_grew(s, org_map, states)
    for (r, org), (node_rows, mirror_rows) in zip(checks, counts, strict=True):
        if node_rows == mirror_rows and proven:
            r.summary = f"{r.summary}; count checked".lstrip("; ")
            continue
        what = f"{r.table.name}" + (f" of {org[:12]}" if org else "")
        s.progress.log(f"{what}: {node_rows} rows on the node, {mirror_rows} after the feed's "
                       "named changes" + ("" if proven else " (a feed holds rows past its "
                                          "registry_hash)") + ": reading them again")
        await _whole(s, batch, r.table, org)
        why = "count differed" if node_rows != mirror_rows else "count unproven"
        if org is None:
            r.whole, r.summary = True, f"{r.summary}; {why}: whole".lstrip("; ")
        else:
            r.whole_orgs.add(org)
            r.summary = f"{r.summary}; {why}: {org[:12]} whole".lstrip("; ")
    return reads


def _owned(table: Table) -> bool:
    return table.read is not None and table.read.owned


async def _counts(s: _Sync, batch: str, r: _Read, org: str | None) -> tuple[int, int]:
    """The node's row count (of one organization) and the mirror's after the named changes:
    unknown deletions can only make the first smaller."""
    node_rows = await count_rows(s.client, r.table, org)
    return node_rows, await s.db.run(_rows_after, s, batch, r, org)


async def _feeds_grew(s: _Sync, org_map: dict[str, dict[str, Any]],
                      states: dict[str, st.OrgState]) -> bool:
    """Whether an unmoved organization's feed has rows past the mirror's position (the node
    ingested a generation it has not published a hash for): one request each, made after
    the counts, so a feed that had not grown then has not grown at count time either."""
    still = [u for u in org_map if u in states and u not in moved(s, org_map, states)]

    async def grew(uid: str) -> bool:
        row, more = await _row_at(s, uid, states[uid].audit_rows)
        return row is not None or more

    return any(await asyncio.gather(*(grew(u) for u in still)))


async def _row_at(s: _Sync, uid: str, offset: int) -> tuple[Any, bool]:
    """The feed row at `offset` (None past the end) and whether rows follow it, in one
    request: the smallest page holding it whose number the node accepts (page <= 100000)."""
    from pipelines.sync.engine import MAX_AUDIT_PAGE

    size = max(1, -(-(offset + 1) // MAX_AUDIT_PAGE))
    number, index = offset // size + 1, offset % size
    page = await get_page(s.client, s.cat.audit_endpoint, [
        ("orgUid", uid), ("page", number), ("limit", size), ("order", "ASC")])
    rows = list(page.records)
    return (rows[index] if index < len(rows) else None,
            index + 1 < len(rows) or page.page_count > number)


def _events(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str,
            windows: list[feed.Window]) -> dict[str, set[str]]:
    """Build the net events; the tables with DELETE rows that name no record, and the
    organizations whose feeds have them."""
    feed.build_events(con, s.cat, batch, 0, 0, windows=windows)
    names = {a: t.name for t in s.cat.current_state for a in t.audit_names}
    out: dict[str, set[str]] = {}
    for table, org in con.execute(
            f'SELECT DISTINCT "table", org_uid FROM {staging_name(s.cat, s.cat.table("audit"))}'
            f" WHERE _batch = ? AND {feed.window_sql(windows)} AND type = 'DELETE' "
            "AND change IS NULL", [batch]).fetchall():
        if table in names:
            out.setdefault(names[table], set()).add(org)
    return out


def _implied(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str) -> dict[str, list[str]]:
    """Held records under a record the feed deletes (by the catalogue's parent links, to any
    depth): the node's writer deletes them too, often in DELETE rows that name no record.
    They are re-read by key (gone: deleted), so nothing is assumed."""
    cat, events = s.cat, feed.events_table(batch)
    links = [(t, p) for t in cat.current_state for p in cat.current_state
             if t.parent_key and p.primary_key[0] == t.parent_key]
    if not links:
        return {}
    con.execute(f"CREATE OR REPLACE TEMP TABLE _implied AS SELECT tbl, k, 0 AS depth "
                f"FROM {events} WHERE type = 'DELETE' AND k IS NOT NULL")
    for depth in range(1, 8):
        added = 0
        for child, parent in links:
            col, pk = child.key_columns[0], next(
                f.column for f in child.fields if f.api_name == child.parent_key)
            added += con.execute(f"""
                INSERT INTO _implied
                SELECT DISTINCT {_lit(child.name)}, t."{col}", {depth}
                FROM {cat.qualified(child.name)} t JOIN _implied i
                  ON i.tbl = {_lit(parent.name)} AND i.depth = {depth - 1} AND i.k = t."{pk}"
                WHERE t."{col}" NOT IN (SELECT k FROM _implied WHERE tbl = {_lit(child.name)})
                """).fetchall()[0][0]
        if not added:
            break
    out: dict[str, list[str]] = {}
    for tbl, k in con.execute("SELECT tbl, k FROM _implied WHERE depth > 0 ORDER BY ALL"
                              ).fetchall():
        out.setdefault(tbl, []).append(k)
    con.execute("DROP TABLE _implied")
    return out


async def _read(s: _Sync, batch: str, p: reread.TablePlan) -> _Read:
    table = p.table
    if p.strategy == "keyset":  # the whole table costs fewer requests than the keys
        await _whole(s, batch, table)
        return _Read(table, whole=True, summary=p.summary().replace("keyset", "whole"))
    r = _Read(table, asked=set(), served=set(), summary=p.summary() if p.strategy != "none"
              or p.feed_applied else "")
    if p.strategy == "none":
        return r
    sink = s._page_sink(batch, table)
    keys = list(p.by_key)
    if p.new and p.since:
        got = await fetch_since(s.client, table, None, p.since, sink,
                                page_size=s.s.page_size, catalog=s.cat)
        r.asked |= set(p.new)
        r.served |= got
        keys += [k for k in p.new if k not in got]
    else:
        keys += p.new
    r.asked |= set(keys)
    if keys:
        if table.read is not None and table.read.by_path:
            try:
                r.served |= await fetch_by_path(s.client, table, keys, sink)
            except CadtError as e:
                if e.status != 400:
                    raise
                # a key the route refuses (estimation and rating check for UUID v4 first)
                s.progress.log(f"{table.name}: {e}; reading the table whole")
                await _whole(s, batch, table)
                return _Read(table, whole=True, summary=f"{r.summary}; refused key: whole")
        else:
            r.served |= await fetch_by_keys(s.client, table, None, keys, sink, s.cat)
    await s.lander.flush(batch, table.name)
    return r


async def _whole(s: _Sync, batch: str, table: Table, org: str | None = None) -> None:
    """The whole table again (or one organization's rows of an `owned` table)."""
    key = f"node/{table.name}/{org or '*'}"
    s.progress.task(key, f"{s.cat.version} {table.name} "
                         + (f"of {org[:12]} (again)" if org else "(whole table)"))
    crawl = crawl_keyset if table.read is not None and table.read.keyset else crawl_offset
    await crawl(s.client, table, org, s._page_sink(batch, table), page_size=s.s.page_size,
                on_page=s._counter(key), catalog=s.cat)
    await s.lander.flush(batch, table.name)
    s.progress.done(key)


def _rows_after(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str, r: _Read,
                org: str | None = None) -> int:
    """The table's row count (of one organization) once this batch's named changes are
    applied."""
    t, stg = s.cat.qualified(r.table.name), staging_name(s.cat, r.table)
    key_t, key_s = key_expr(r.table, "t"), key_expr(r.table, "s")
    gone = ", ".join(map(_lit, r.gone)) or "NULL"
    mine = f"AND org_uid = {_lit(org)}" if org else ""
    return con.execute(f"""
        WITH staged AS (SELECT DISTINCT {key_s} AS k FROM {stg} s
                        WHERE _batch = ? AND len(_issues) = 0),
             dropped AS ({feed.deleted_keys_sql(batch, r.table.name)}
                         UNION SELECT unnest([{gone}]))
        SELECT (SELECT count(*) FROM {t} t WHERE {key_t} NOT IN (SELECT k FROM staged)
                  AND {key_t} NOT IN (SELECT k FROM dropped WHERE k IS NOT NULL) {mine})
             + (SELECT count(DISTINCT {key_s}) FROM {stg} s
                WHERE _batch = ? AND len(_issues) = 0 {mine})""", [batch, batch]
    ).fetchall()[0][0]


def _commit(con: duckdb.DuckDBPyConnection, s: _Sync, batch: str, tails: list[_Tail],
            reads: list[_Read], whole: OrgReport) -> None:
    """Every changed table, the feeds' rows and the organizations' states in one transaction."""
    cat = s.cat
    events = feed.events_table(batch)
    windows = [(t.uid, t.after, t.target) for t in tails]
    for r in reads:  # what a read did not return is gone from the node: not landed from the feed
        name = _lit(r.table.name)
        if r.whole or r.whole_orgs:
            of_orgs = "" if r.whole else (
                f"AND json_extract_string(change, '$.{cat.value_key('orgUid')}') IN "
                f"({', '.join(map(_lit, sorted(r.whole_orgs)))})")
            con.execute(
                f"UPDATE {events} SET type = 'DELETE' WHERE tbl = {name} AND type = 'INSERT' "
                f"AND k NOT IN (SELECT {key_expr(r.table)} FROM {staging_name(cat, r.table)} "
                f"WHERE _batch = ? AND len(_issues) = 0) {of_orgs}", [batch]).fetchall()
        if r.whole:
            continue
        elif r.gone:  # (keys the feed named, or under a deleted record: see _implied)
            con.execute(f"UPDATE {events} SET type = 'DELETE' WHERE tbl = {name} "
                        "AND k IN (SELECT unnest(?))", [r.gone]).fetchall()
            con.execute(f"INSERT INTO {events} (tbl, k, type) SELECT {name}, k, 'DELETE' "
                        f"FROM (SELECT unnest(?) AS k) WHERE k NOT IN "
                        f"(SELECT k FROM {events} WHERE tbl = {name} AND k IS NOT NULL)",
                        [r.gone]).fetchall()
    feed.land_from_feed(con, cat, batch)
    staged = staged_counts(con, cat, batch)
    touched = {r[0] for r in con.execute(f"SELECT DISTINCT tbl FROM {events}").fetchall()}
    whole_tables = {r.table.name for r in reads if r.whole}
    whole_orgs = {r.table.name: sorted(r.whole_orgs) for r in reads if r.whole_orgs}
    crashpoints.hit("before_commit")
    con.execute("BEGIN")
    try:
        counts: dict[str, tuple[int, int, int]] = {}
        for table in cat.current_state:
            name = table.name
            crashpoints.hit("mid_commit")
            s.db.stop_point()
            if name in whole_tables:
                c = apply_batch(con, cat, table, batch, s.sync_id, scope="TRUE", record="*")
            elif name in touched or staged[name].rows:
                orgs = whole_orgs.get(name)
                c = apply_batch(con, cat, table, batch, s.sync_id, record="*",
                                scope=f"t.org_uid IN ({', '.join(map(_lit, orgs))})"
                                if orgs else None,
                                deleted=feed.deleted_keys_sql(batch, name))
            else:
                continue
            counts[name] = c.as_tuple()
        # (rows the mirror holds past a position are replaced: none normally)
        after = " OR ".join(f"(t.org_uid = {_lit(t.uid)} AND t.generation > {int(t.after)})"
                            for t in tails) or "FALSE"
        counts["audit"] = apply_batch(con, cat, cat.table("audit"), batch, s.sync_id,
                                      scope=after, staged_filter=feed.window_sql(windows)
                                      ).as_tuple()
        q = quarantine_batch(con, cat, batch, s.sync_id, None,
                             [n for n, c in staged.items() if c.with_issues])
        qe, unknown = feed.quarantine_events(con, cat, batch, s.sync_id, "*", 0, 0,
                                             windows=windows, keyless_deletes=True)
        whole.quarantined, whole.unknown_audit_tables = q + qe, unknown
        for t in tails:
            st.save_state(con, cat.version, t.state)
        st.record_changes(con, cat.version, s.sync_id, "*", "incremental", counts)
        s.db.stop_point()
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    crashpoints.hit("after_commit")
    whole.changes = {t: c for t, c in counts.items() if any(c)}
    _discard(con, s, batch)
