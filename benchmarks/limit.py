"""The physical limit: a bare client that fetches exactly the pages a full sync fetches.

Same crawl functions as the sync (`crawl_audit`, `crawl_keyset`), same HTTP client, same
concurrency and the same order (per org: audit history, then projects and units together; all
orgs at once, where the sync reads a few at a time: the same requests in flight either way), but
every page body is dropped on arrival: no landing, no DuckDB, no merge.
What remains is the source's serving time plus reading each page the way the sync reads it
(Arrow's JSON reader, off the event loop), which the crawl needs for the keyset keys and the
audit checks.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from pipelines.source.catalog_v1 import PROJECTS, UNITS, V1
from pipelines.source.client import CadtClient
from pipelines.sync.crawl import crawl_audit, crawl_keyset

ORGS_PATH = "/v1/organizations"
PICKLIST_PATH = "/v1/governance/meta/pickList"


@dataclass
class LimitReport:
    seconds: float
    requests: int
    bytes: int
    by_path: dict[str, int] = field(default_factory=dict)
    records: dict[str, int] = field(default_factory=dict)


async def _discard(*_page: object) -> None:
    return None


async def bare_fetch_async(api_url: str, concurrency: int = 4, page_size: int = 1000,
                           tables: tuple[str, ...] = ("audit", "projects", "units")
                           ) -> LimitReport:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    records: dict[str, int] = {}
    async with CadtClient(api_url, concurrency=concurrency) as client:
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
        return LimitReport(loop.time() - t0, c.requests, c.bytes, dict(c.by_path), records)


def bare_fetch(api_url: str, concurrency: int = 4, page_size: int = 1000,
               tables: tuple[str, ...] = ("audit", "projects", "units")) -> LimitReport:
    return asyncio.run(bare_fetch_async(api_url, concurrency, page_size, tables))
