"""The limit: the pages a full sync fetches, 4 in flight, each body read and dropped.

A keyset crawl cannot run without reading its pages (each request names the previous page's
last key), so the limit is taken in two steps:

1. `record_crawl`: one crawl built from the sync's own crawl functions (`crawl_audit`,
   `crawl_keyset`) and `CadtClient`, with the same concurrency and order as the sync (per org the
   audit history, then projects and units together), reading each page the way the sync does
   (Arrow's JSON reader, off the event loop) and dropping it. It records the path and query of
   every request, in the order they were sent. Its own time is the second, labelled reference:
   *the limit incl. parsing*.
2. `replay`: those URLs fetched again in that order with the sync's HTTP library (httpx, the
   same headers and connection limits as `CadtClient`) and its concurrency, each body read fully
   and dropped: no parsing, no landing. Its wall time and the CPU time of this process during it
   are *the limit*. It runs in-process, so its CPU is `time.process_time()` (all threads).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from pipelines.source.catalog_v1 import PROJECTS, UNITS, V1
from pipelines.source.client import CadtClient, split_base_url
from pipelines.sync.crawl import crawl_audit, crawl_keyset

ORGS_PATH = "/v1/organizations"
PICKLIST_PATH = "/v1/governance/meta/pickList"
# what CadtClient sends (no API key: the simulator needs none)
HEADERS = {"accept": "application/json", "user-agent": "cadt-mirror/0.1"}
TABLES = ("audit", "projects", "units")


@dataclass
class LimitReport:
    """One run of the recording crawl (parsing every page)."""

    seconds: float
    cpu_seconds: float
    requests: int
    bytes: int
    by_path: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)
    urls: list[str] = field(default_factory=list)  # path + query, in the order sent


@dataclass
class ReplayReport:
    """One replay of recorded URLs (bodies read and dropped)."""

    seconds: float
    cpu_seconds: float
    requests: int
    bytes: int
    by_path: dict[str, int] = field(default_factory=dict)
    fetched: list[str] = field(default_factory=list)  # path + query as sent, in answer order
    bad_status: int = 0  # answers other than 200


def url_digest(urls: list[str]) -> str:
    """A short fingerprint of an ordered URL list (the lists themselves are not stored)."""
    return hashlib.sha1("\n".join(urls).encode()).hexdigest()[:16]


class RecordingClient(CadtClient):
    """`CadtClient` that records the path + query of every request it sends."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls: list[str] = []

    async def __aenter__(self) -> RecordingClient:
        await super().__aenter__()
        assert self._http is not None
        self._http.event_hooks["request"].append(self._record)
        return self

    async def _record(self, request: httpx.Request) -> None:
        self.urls.append(request.url.raw_path.decode("ascii"))


async def _discard(*_page: object) -> None:
    return None


async def record_crawl_async(api_url: str, concurrency: int = 4, page_size: int = 1000,
                             tables: tuple[str, ...] = TABLES) -> LimitReport:
    records: dict[str, int] = {}
    async with RecordingClient(api_url, concurrency=concurrency) as client:
        orgs = (await client.get(ORGS_PATH)).data
        await client.get(PICKLIST_PATH)
        if isinstance(orgs, dict) and isinstance(orgs.get("organizations"), dict):
            orgs = orgs["organizations"]

        async def org(uid: str) -> None:
            if "audit" in tables:
                rows = await crawl_audit(client, uid, 0, _discard, page_size=page_size,
                                         catalog=V1)
                records["audit"] = records.get("audit", 0) + len(rows)

            async def keyset(table) -> None:
                if table.name in tables:
                    n = await crawl_keyset(client, table, uid, _discard, page_size=page_size,
                                           catalog=V1)
                    records[table.name] = records.get(table.name, 0) + n

            await asyncio.gather(keyset(PROJECTS), keyset(UNITS))

        await asyncio.gather(*(org(uid) for uid in orgs))
        c = client.counters
        return LimitReport(0.0, 0.0, c.requests, c.bytes, dict(c.by_path), records,
                           list(client.urls))


def record_crawl(api_url: str, concurrency: int = 4, page_size: int = 1000,
                 tables: tuple[str, ...] = TABLES) -> LimitReport:
    """The parse-including crawl (the limit incl. parsing); its URLs are what `replay` sends."""
    t0, c0 = time.perf_counter(), time.process_time()
    rep = asyncio.run(record_crawl_async(api_url, concurrency, page_size, tables))
    rep.seconds, rep.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return rep


def _origin_and_prefix(api_url: str) -> tuple[str, str]:
    """`http://host:port` and the root's path prefix (e.g. `/api`) of a node URL."""
    parts = urlsplit(split_base_url(api_url))
    return f"{parts.scheme}://{parts.netloc}", parts.path.rstrip("/")


async def replay_async(api_url: str, urls: list[str], concurrency: int = 4,
                       timeout: float = 60.0) -> ReplayReport:
    origin, prefix = _origin_and_prefix(api_url)
    sem = asyncio.Semaphore(concurrency)
    rep = ReplayReport(0.0, 0.0, 0, 0)
    limits = httpx.Limits(max_connections=concurrency + 2,
                          max_keepalive_connections=concurrency + 2)

    async with httpx.AsyncClient(base_url=origin, headers=HEADERS, limits=limits,
                                 timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
                                 follow_redirects=True) as http:
        async def one(url: str) -> None:
            async with sem:  # FIFO: requests go out in the recorded order
                resp = await http.get(url)  # not streamed: the whole body is read
            sent = resp.request.url.raw_path.decode("ascii")
            rep.fetched.append(sent)
            route = urlsplit(sent).path.removeprefix(prefix)
            rep.by_path[route] = rep.by_path.get(route, 0) + 1
            rep.requests += 1
            rep.bytes += len(resp.content)
            rep.bad_status += resp.status_code != 200

        await asyncio.gather(*(one(u) for u in urls))
    return rep


def replay(api_url: str, urls: list[str], concurrency: int = 4) -> ReplayReport:
    """The limit: `urls` fetched with `concurrency` in flight; wall and process CPU time."""
    t0, c0 = time.perf_counter(), time.process_time()
    rep = asyncio.run(replay_async(api_url, urls, concurrency))
    rep.seconds, rep.cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    return rep
