"""The bridge between async fetching and the (single-writer) DuckDB connection.

All DuckDB work runs on one dedicated thread, in order. Fetchers hand page bodies to a bounded
queue and go straight back to the network; the lander thread appends them to the raw-pages table
and explodes them into typed staging every few pages. The bounded queue is the back-pressure that
keeps memory flat however large the source is.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import Callable
from typing import Any, TypeVar

import duckdb

from pipelines import crashpoints
from pipelines.source.catalog import Catalog, Table
from pipelines.warehouse import landing

T = TypeVar("T")
EXPLODE_EVERY = 16  # pages per stream between explodes: bounds the raw-page backlog


class DbWorker:
    """Runs callables against one DuckDB connection on one thread, serially."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        self._pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="duckdb")

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: fn(self.con, *args))

    def close(self) -> None:
        self._pool.shutdown(wait=True)


class Lander:
    """Queue of pages to land; `flush` waits until a stream is fully in staging."""

    def __init__(self, db: DbWorker, catalog: Catalog, queue_size: int = 8) -> None:
        self.db = db
        self.catalog = catalog
        self._queue: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue(queue_size)
        self._pending: dict[tuple[str, str], int] = {}
        self._seq = 0
        self._task: asyncio.Task[None] | None = None
        self.pages = 0
        self.bytes = 0
        self._error: BaseException | None = None

    async def __aenter__(self) -> Lander:
        self._task = asyncio.create_task(self._loop())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            await self._queue.put(("stop",))
            await self._task

    async def put(self, batch: str, table: Table, stream: str, body: bytes, keep: int,
                  prio: int = 0, *, unknown: bool = True) -> None:
        """Queue a page; `unknown` says whether it may carry fields the catalogue lacks."""
        if self._error is not None:
            raise self._error  # surface a landing failure to the fetcher
        await self._queue.put(("page", batch, table, stream, body, keep, prio, unknown))

    async def flush(self, batch: str, table: Table, stream: str, prio: int = 0) -> None:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        await self._queue.put(("flush", batch, table, stream, prio, fut))
        await fut

    async def _loop(self) -> None:
        while True:
            item = await self._queue.get()
            kind = item[0]
            if kind == "stop":
                return
            if kind == "page":
                _, batch, table, stream, body, keep, prio, unknown = item
                if self._error is not None:
                    continue
                try:
                    await self._land(batch, table, stream, body, keep, prio, unknown)
                except Exception as e:  # remembered; raised to the next put/flush
                    self._error = e
            elif kind == "flush":
                _, batch, table, stream, prio, fut = item
                if self._error is not None:
                    fut.set_exception(self._error)
                    continue
                try:
                    await self._explode(batch, table, stream, prio)
                except Exception as e:  # hand the failure to whoever waits for this stream
                    fut.set_exception(e)
                else:
                    fut.set_result(None)

    async def _land(self, batch: str, table: Table, stream: str, body: bytes, keep: int,
                    prio: int, unknown: bool) -> None:
        self._seq += 1
        self.pages += 1
        self.bytes += len(body)
        await self.db.run(landing.append_page, batch, stream, self._seq, keep, body, unknown)
        crashpoints.hit("page_landed")
        n = self._pending.get((batch, stream), 0) + 1
        self._pending[(batch, stream)] = n
        if n >= EXPLODE_EVERY:
            await self._explode(batch, table, stream, prio)

    async def _explode(self, batch: str, table: Table, stream: str, prio: int) -> None:
        if self._pending.pop((batch, stream), 0):
            await self.db.run(landing.explode_pages, self.catalog, table, batch, stream, prio)
            crashpoints.hit("exploded")
