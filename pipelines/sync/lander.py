"""The bridge between async fetching and the (single-writer) DuckDB connection.

DuckDB work runs on dedicated threads, each with its own cursor of the sync's connection, in
order: one stages pages, one commits organizations, so staging goes on while an organization
commits. Fetchers hand read pages to a bounded queue and go straight back to the network; the
lander stages them in batches of a few pages (one Arrow INSERT per table per batch). The
bounded queue is the back-pressure that keeps memory flat however large the source is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from pipelines import crashpoints
from pipelines.source.arrow_pages import Records
from pipelines.source.catalog import Catalog, Table
from pipelines.warehouse import landing

T = TypeVar("T")
PAGES_PER_BATCH = 8  # pages per stream staged together: amortises per-INSERT overhead
MAX_PENDING_PAGES = 16  # across all streams: a page costs ~1.5 MB as Arrow, ~8 MB parsed


class DbWorker:
    """Runs callables against one DuckDB connection on one thread, serially."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="duckdb")
        self.halted = False  # set by `halt`; whoever records the stop clears it
        self.stopping = False  # set by `halt`, never cleared: the work in flight must not commit

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, self._call, fn, args)

    def _call(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self.halted:  # queued before the stop: it must not start (e.g. the next commit)
            raise duckdb.InterruptException("INTERRUPT Error: the sync is stopping")
        return fn(self.con, *args)

    def stop_point(self) -> None:
        """Raise if the sync is stopping. DuckDB drops an interrupt that arrives between two
        statements, so a multi-statement transaction (an organization's commit) asks here
        between its steps and before COMMIT, and rolls back."""
        if self.stopping:
            raise duckdb.InterruptException("INTERRUPT Error: the sync is stopping")

    def halt(self) -> None:
        """The sync is stopping (a signal): interrupt the running statement, start no more."""
        self.halted = self.stopping = True
        with contextlib.suppress(duckdb.ConnectionException):  # already closed: nothing runs
            self.con.interrupt()

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Lander:
    """Queue of pages to stage; `flush` waits until a stream is fully in staging."""

    def __init__(self, db: DbWorker, catalog: Catalog, queue_size: int = 8) -> None:
        self.db = db
        self.catalog = catalog
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue(queue_size)
        # (batch, stream) -> its table, landing priority and the pages not yet staged
        self._pending: dict[tuple[str, str], tuple[Table, int, list[Records]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None

    async def __aenter__(self) -> Lander:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None, *exc: object) -> None:
        if self._task is None:
            return
        if exc_type is not None and issubclass(exc_type, asyncio.CancelledError):
            # the sync is stopping: nothing more is worth staging, and a full queue must not
            # keep us waiting for a "stop" slot
            self._task.cancel()
            await asyncio.wait([self._task])
            return
        await self._queue.put(("stop",))
        await self._task

    async def put(self, batch: str, table: Table, stream: str, records: Records,
                  prio: int = 0) -> None:
        """Queue one page's records (already trimmed to the ones to keep)."""
        if self._error is not None:
            raise self._error  # surface a landing failure to the fetcher
        await self._queue.put(("page", batch, table, stream, records, prio))

    async def flush(self, batch: str, stream: str) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(("flush", batch, stream, fut))
        await fut

    async def _loop(self) -> None:
        while True:
            item = await self._queue.get()
            kind = item[0]
            if kind == "stop":
                return
            if kind == "page":
                _, batch, table, stream, records, prio = item
                if self._error is not None:
                    continue
                try:
                    await self._add(batch, table, stream, records, prio)
                except Exception as e:  # remembered; raised to the next put/flush
                    self._error = e
            elif kind == "flush":
                _, batch, stream, fut = item
                if fut.done():  # its waiter was cancelled (the sync is stopping)
                    continue
                if self._error is not None:
                    fut.set_exception(self._error)
                    continue
                try:
                    await self._stage(batch, stream)
                except Exception as e:  # hand the failure to whoever waits for this stream
                    if not fut.done():
                        fut.set_exception(e)
                else:
                    if not fut.done():
                        fut.set_result(None)

    async def _add(self, batch: str, table: Table, stream: str, records: Records,
                   prio: int) -> None:
        pages = self._pending.setdefault((batch, stream), (table, prio, []))[2]
        pages.append(records)
        crashpoints.hit("page_landed")
        if len(pages) >= PAGES_PER_BATCH:
            await self._stage(batch, stream)
        elif sum(len(p[2]) for p in self._pending.values()) >= MAX_PENDING_PAGES:
            # many streams at once (one per org and endpoint): stage the fullest one
            fullest = max(self._pending, key=lambda k: len(self._pending[k][2]))
            await self._stage(*fullest)

    async def _stage(self, batch: str, stream: str) -> None:
        pending = self._pending.pop((batch, stream), None)
        if pending:
            table, prio, pages = pending
            ctx = landing.LandContext(batch, "api", prio)
            await self.db.run(landing.stage_pages, self.catalog, table, pages, ctx)
            crashpoints.hit("exploded")
