"""What the CADT node itself says, asked directly: its organization map and its own counts.

The sensor polls the map to see whether anything moved; the raw assets' gates hold the mirror
against the node's counts. The sync compares projects and units after a snapshot only (and keeps
the numbers to itself); this asks for the same numbers after every sync.
"""

import asyncio
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pipelines.source.catalog_v1 import V1
from pipelines.source.client import CadtClient, CadtError, CadtUnreachableError, Response
from pipelines.sync.crawl import get_page

ORGS_PATH = "/v1/organizations"
COUNTED = ("projects", "units", "audit")
"""Tables whose endpoint gives a per-organization count (`limit=1` answers it as pageCount)."""

# How CadtClient words a failure that outlived its retries (connection, timeout, 5xx, cut or
# truncated body, 429 after its waits). A sync report carries its errors as text only.
_GAVE_UP = re.compile(r"giving up after \d+ attempts|gave up after \d+ attempts|still answers 429")


def unreachable(error: object) -> bool:
    """The node did not answer usefully even after the client's retries: a transport failure,
    worth another attempt later (unlike a refused key, a wrong URL or an error answer)."""
    return isinstance(error, CadtUnreachableError) or bool(_GAVE_UP.search(str(error or "")))


def org_map(data: Any) -> dict[str, dict[str, Any]]:
    """The organizations map by orgUid (older nodes wrap it in {"organizations": {...}})."""
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    if not isinstance(data, dict):
        raise CadtError(f"{ORGS_PATH}: expected an object keyed by orgUid, "
                        f"got {type(data).__name__}")
    return {str(o.get("orgUid") or uid): o for uid, o in data.items() if isinstance(o, dict)}


def registry_hashes(data: Any) -> dict[str, str | None]:
    """{orgUid: registryHash}: the hash moves on every commit of the organization."""
    return {uid: (o.get("registryHash") if isinstance(o.get("registryHash"), str) else None)
            for uid, o in org_map(data).items()}


async def get_organizations(client: CadtClient, etag: str | None = None) -> Response:
    """One conditional request: a 304 when the map is unchanged since `etag`."""
    return await client.get(ORGS_PATH, etag=etag)


@dataclass(frozen=True)
class NodeCounts:
    """The node's rows per (table, orgUid), and the organizations that held still meanwhile."""

    hashes: Mapping[str, str | None]
    counts: Mapping[tuple[str, str], int]
    steady: frozenset[str]  # same registryHash before and after counting
    orgs_steady: bool  # the same set of organizations before and after


async def count(client: CadtClient) -> NodeCounts:
    """Count every COUNTED table of every organization; 2 + 3 * organizations requests."""
    before = registry_hashes((await get_organizations(client)).data)
    keys = [(table, org) for org in before for table in COUNTED]
    pages = await asyncio.gather(*(
        get_page(client, V1.table(table).endpoint or "",
                 [("page", 1), ("limit", 1), ("orgUid", org)]) for table, org in keys))
    after = registry_hashes((await get_organizations(client)).data)
    return NodeCounts(
        hashes=before,
        counts={k: p.page_count for k, p in zip(keys, pages, strict=True)},
        steady=frozenset(o for o, h in before.items() if o in after and after[o] == h),
        orgs_steady=before.keys() == after.keys(),
    )
