"""Reading CADT list endpoints completely and consistently.

Projects and units are read with keyset pagination on their primary key
(`order=<pk>:ASC&filter=<pk>:<last>:gt`), which the server's generic filter supports: unlike page
offsets, a keyset never skips or repeats a row when the source inserts or deletes rows during the
crawl. After a first page shows the org is large, the rest of the key space is split into
hex-prefix ranges crawled in parallel, so one org still uses all the allowed concurrency.

The audit feed has no usable filter, so it is read by page offset in ascending order; it only
ever grows at the end (resets are detected by the caller).
"""

from __future__ import annotations

import asyncio
import logging
import string
from array import array
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipelines.source.arrow_pages import Records, parse_page
from pipelines.source.catalog import Catalog, Spelling, Table
from pipelines.source.client import CadtClient, CadtError

PAGE_SIZE = 1000
IDS_PER_REQUEST = 100  # without a filter length limit: keeps URLs well under Node's 16 KB
# An id list (`&projectIds=<uuid>` x n) stays under this many bytes of URL: Node allows 16 KB
# of request head, but a proxy in front of a node (nginx: 8 KB buffers) may allow less.
IDS_URL_BYTES = 7000
HEX = set(string.hexdigits.lower())

log = logging.getLogger(__name__)
PageSink = Callable[[Records], Awaitable[None]]  # receives the records to keep of one page


class MalformedPage(CadtError):
    """A 200 response whose body is not the expected envelope."""


class PagesShifted(CadtError):
    """An offset read served a row twice: rows moved between its pages (the source changed,
    or its order has ties the node breaks differently each time), so as many were missed.
    The caller reads again."""


def _check_unique(seen: set[Any], keys: list[Any], what: str) -> None:
    dup = next((k for k in keys if k in seen), None)
    if dup is not None or len(set(keys)) < len(keys):
        raise PagesShifted(f"{what}: row {dup!r} served twice by an offset read")
    seen.update(keys)


@dataclass
class Page:
    records: Records
    page_count: int


def _envelope(path: str, data: Any) -> tuple[list[Any], int]:
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise MalformedPage(f"{path}: expected {{page, pageCount, data}}, got {type(data).__name__}")
    page_count = data.get("pageCount")
    if not isinstance(page_count, int):
        raise MalformedPage(f"{path}: pageCount is {page_count!r}")
    return data["data"], page_count


async def get_page(client: CadtClient, path: str, params: list[tuple[str, Any]],
                   columnar: tuple[Catalog, Table] | None = None) -> Page:
    """One list page; a body that is not a valid envelope is retried like a transport error.

    With `columnar` (catalogue and table of the endpoint's records), the page is read straight
    into Arrow columns off the event loop when the strict reader can take it."""
    attempts = 0
    while True:
        try:
            if columnar is None:
                data = (await client.get(path, params)).data
            else:
                body = (await client.get(path, params, raw=True)).body
                fast = await asyncio.to_thread(parse_page, body, *columnar)
                if fast is not None:
                    return Page(*fast)
                try:
                    data = orjson.loads(body)
                except orjson.JSONDecodeError as e:
                    raise MalformedPage(f"{path}: invalid JSON body ({len(body)} bytes): {e}") \
                        from None
            return Page(*_envelope(path, data))
        except MalformedPage as e:
            attempts += 1
            if attempts > client.max_retries:
                raise
            client.counters.retries += 1
            wait = client._backoff(attempts, None)
            log.warning("%s; retry %d/%d in %.2fs", e, attempts, client.max_retries, wait)
            await asyncio.sleep(wait)


def _ranges(after: str, parts: int) -> list[tuple[str, str | None]]:
    """Split the key space above `after` into up to `parts` (lo, hi) ranges by 2-hex prefixes."""
    prefix = after[:2].lower()
    if parts <= 1 or len(prefix) < 2 or not set(prefix) <= HEX:
        return [(after, None)]
    start = int(prefix, 16) + 1
    if start >= 256:
        return [(after, None)]
    step = max(1, (256 - start + parts - 1) // parts)
    bounds = [f"{b:02x}" for b in range(start, 256, step)]
    ranges: list[tuple[str, str | None]] = []
    lo = after
    for b in bounds:
        ranges.append((lo, b))
        lo = b
    ranges.append((lo, None))
    return ranges


async def crawl_keyset(
    client: CadtClient,
    table: Table,
    org_uid: str | None,
    sink: PageSink,
    *,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Every record of `table`'s endpoint for one org (None: the whole node), each exactly
    once. Returns the record count.

    With the `catalog`, pages are read into Arrow columns where possible (see `get_page`)."""
    assert table.endpoint is not None
    pk = table.primary_key[0]
    base = [("page", 1), ("limit", page_size), *_org_param(org_uid), ("order", f"{pk}:ASC")]

    columnar = (catalog, table) if catalog else None
    first = await get_page(client, table.endpoint, base, columnar)
    await sink(first.records)
    if on_page:
        on_page(len(first.records))
    total = len(first.records)
    if len(first.records) < page_size:
        return total
    last = _last_key(_plausible_keys(first.records, pk), "")
    ranges = _ranges(last, min(client.concurrency, max(1, first.page_count - 1)))

    async def stream(lo: str, hi: str | None) -> int:
        n = 0
        after = lo
        while True:
            page = await get_page(client, table.endpoint,
                                  [*base, ("filter", f"{pk}:{after}:gt")], columnar)
            keys = _plausible_keys(page.records, pk)
            keep = len(page.records)
            if hi is not None:
                keep = next((i for i, k in enumerate(keys) if k is not None and k >= hi),
                            len(page.records))
            await sink(page.records[:keep])
            n += keep
            if on_page:
                on_page(keep)
            if len(page.records) < page_size or keep < len(page.records):
                return n
            after = _last_key(keys, after)

    counts = await asyncio.gather(*(stream(lo, hi) for lo, hi in ranges))
    return total + sum(counts)


def _org_param(org_uid: str | None) -> list[tuple[str, Any]]:
    return [] if org_uid is None else [("orgUid", org_uid)]


async def crawl_offset(
    client: CadtClient, table: Table, org_uid: str | None, sink: PageSink, *,
    page_size: int = PAGE_SIZE, on_page: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
) -> int:
    """Every record of an endpoint that takes no `filter`/`order` (v2 child tables), by page
    offset in the node's own order. Exact only while the source does not change: the caller
    checks that it did not (its default order is not total, and rows shift on commits)."""
    assert table.endpoint is not None
    columnar = (catalog, table) if catalog else None
    seen: set[Any] = set()
    pk = table.primary_key[0]

    def params(page: int) -> list[tuple[str, Any]]:
        return [("page", page), ("limit", page_size), *_org_param(org_uid)]

    async def land(page: Page) -> None:
        keys = [k for k in _raw_keys(page.records, pk) if k is not None]
        _check_unique(seen, keys, table.endpoint or table.name)
        await sink(page.records)
        if on_page:
            on_page(len(page.records))

    first = await get_page(client, table.endpoint, params(1), columnar)
    await land(first)
    n = len(first.records)
    rest = list(range(2, first.page_count + 1))
    window = max(1, client.concurrency * 2)
    for i in range(0, len(rest), window):
        pages = await asyncio.gather(*(get_page(client, table.endpoint, params(p), columnar)
                                       for p in rest[i:i + window]))
        for page in pages:
            await land(page)
            n += len(page.records)
    return n


def _plausible_keys(records: Records, pk: str) -> list[str | None]:
    """The page's keys, with values that cannot be real keys (a corrupted record) as None.

    The server sorts by the real key; a malformed copy of one record must neither end a range
    early nor send the keyset somewhere else. Real keys share one length (UUIDs) and increase.
    """
    raw = _raw_keys(records, pk)
    lengths = Counter(len(k) for k in raw if isinstance(k, str) and k)
    if not lengths:
        return [None] * len(raw)
    length = lengths.most_common(1)[0][0]
    out: list[str | None] = []
    best = ""
    for k in raw:
        ok = isinstance(k, str) and len(k) == length and k > best
        out.append(k if ok else None)
        if ok:
            best = k
    return out


def _raw_keys(records: Records, pk: str) -> list[Any]:
    """The page's `pk` values, in order (None where a record has none)."""
    if isinstance(records, pa.StructArray):
        return pc.struct_field(records, pk).to_pylist()
    return [r.get(pk) if isinstance(r, dict) else None for r in records]


def _keys_of(records: Records, pk: str) -> set[str]:
    """Every string key on a page, in any order."""
    return {k for k in _raw_keys(records, pk) if isinstance(k, str)}


def _last_key(keys: list[str | None], after: str) -> str:
    usable = [k for k in keys if k is not None and k > after]
    if not usable:
        raise MalformedPage("a full page without any usable key: cannot continue the keyset")
    return usable[-1]


async def fetch_by_keys(
    client: CadtClient, table: Table, org_uid: str | None, keys: list[str], sink: PageSink,
    catalog: Catalog | None = None,
) -> set[str]:
    """Re-read specific records (with their nested children) by primary key, as many a
    request as the node's validation allows (`Table.read`). Returns the keys served."""
    assert table.endpoint is not None
    pk = table.primary_key[0]
    read = table.read
    columnar = (catalog, table) if catalog else None
    found: set[str] = set()

    async def one(chunk: list[str]) -> None:
        params: list[tuple[str, Any]] = [("page", 1), ("limit", PAGE_SIZE),
                                         *_org_param(org_uid)]
        if read is not None and read.ids_param:
            params += [(read.ids_param, k) for k in chunk]
        else:
            params.append(("filter", _in_filter(pk, chunk)))
        page = await get_page(client, table.endpoint, params, columnar)
        found.update(_keys_of(page.records, pk))
        await sink(page.records)

    await asyncio.gather(*(one(c) for c in _key_chunks(table, keys)))
    return found


def _in_filter(pk: str, keys: list[str]) -> str:
    return f"{pk}:[" + ",".join(f'"{k}"' for k in keys) + "]:in"


def _key_chunks(table: Table, keys: list[str]) -> list[list[str]]:
    """Keys packed into requests: up to `ids_max` per id list, else as many as fit the
    endpoint's `filter` length limit (two UUIDs on `/v1/units`)."""
    read, pk = table.read, table.primary_key[0]
    if read is not None and read.ids_param:
        chunks_: list[list[str]] = []
        size = 0
        for k in keys:
            cost = len(read.ids_param) + 2 + len(k)  # "&<param>=<key>"
            if chunks_ and len(chunks_[-1]) < read.ids_max and size + cost <= IDS_URL_BYTES:
                chunks_[-1].append(k)
                size += cost
            else:
                chunks_.append([k])
                size = cost
        return chunks_
    limit = read.filter_max if read is not None else None
    value_limit = read.value_max if read is not None else None

    def fits(chunk: list[str]) -> bool:
        text = _in_filter(pk, chunk)
        return ((limit is None or len(text) <= limit)
                and (value_limit is None or len(text) - len(pk) - len("::in") <= value_limit))

    chunks: list[list[str]] = []
    for k in keys:
        if chunks and len(chunks[-1]) < IDS_PER_REQUEST and fits([*chunks[-1], k]):
            chunks[-1].append(k)
        else:
            chunks.append([k])
    return chunks


async def fetch_since(
    client: CadtClient, table: Table, org_uid: str | None, since: str, sink: PageSink, *,
    page_size: int = PAGE_SIZE, catalog: Catalog | None = None,
) -> set[str]:
    """Records the node ingested after `since` (`filter=<since_field>:<since>:gt`, oldest
    first, by page), with their children. Returns the keys served.

    Pages are offsets: a record ingested during the read lands at the end (newest), and one
    deleted meanwhile may shift a record past a page boundary; the caller re-reads by key
    whatever it expected and did not get."""
    assert table.endpoint is not None and table.read is not None and table.read.since_field
    pk, stamp = table.primary_key[0], table.read.since_field
    where = table.read.since_filter or stamp
    columnar = (catalog, table) if catalog else None
    found: set[str] = set()

    def params(page: int) -> list[tuple[str, Any]]:
        return [("page", page), ("limit", page_size), *_org_param(org_uid),
                ("order", f"{stamp}:ASC"), ("filter", f"{where}:{since}:gt")]

    async def land(page: Page) -> None:
        found.update(_keys_of(page.records, pk))
        await sink(page.records)

    first = await get_page(client, table.endpoint, params(1), columnar)
    await land(first)
    rest = list(range(2, first.page_count + 1))
    window = max(1, client.concurrency * 2)
    for i in range(0, len(rest), window):
        pages = await asyncio.gather(*(get_page(client, table.endpoint, params(p), columnar)
                                       for p in rest[i:i + window]))
        for page in pages:
            await land(page)
    return found


async def fetch_by_path(
    client: CadtClient, table: Table, keys: list[str], sink: PageSink,
) -> set[str]:
    """Re-read records one a request, `GET <endpoint>/<key>` (v2 routes that take no
    `filter`); a 404 "not found" means the record is gone. Returns the keys served."""
    assert table.endpoint is not None
    pk = table.primary_key[0]
    found: set[str] = set()

    async def one(key: str) -> None:
        resp = await client.get(f"{table.endpoint}/{key}", missing_ok=True)
        if resp.status == 404:
            return
        record = resp.data
        if (isinstance(record, dict) and pk not in record and record.get("success") is True
                and isinstance(record.get("data"), dict)):
            record = record["data"]  # (older builds: `{success, data}`)
        if not isinstance(record, dict) or record.get(pk) != key:
            raise MalformedPage(f"{table.endpoint}/{key}: expected the record, got "
                                f"{type(record).__name__}")
        found.add(key)
        await sink([record])

    await asyncio.gather(*(one(k) for k in keys))
    return found


async def count_rows(client: CadtClient, table: Table, org_uid: str | None = None) -> int:
    """How many records the endpoint serves (of one organization): its `pageCount` at
    `limit=1` (one request)."""
    assert table.endpoint is not None
    page = await get_page(client, table.endpoint,
                          [("page", 1), ("limit", 1), *_org_param(org_uid)])
    return page.page_count


@dataclass
class AuditLog:
    """What the sync needs to know of the audit rows it read to check the feed, kept compact
    (two integer arrays and one hash per generation: ~16 bytes a row); the rows themselves
    land in SQL."""

    start_offset: int
    spelling: Spelling = field(default_factory=Spelling)  # the row keys of the catalogue
    ids: array = field(default_factory=lambda: array("q"))
    gens: array = field(default_factory=lambda: array("q"))
    roots: dict[int, str | None] = field(default_factory=dict)  # generation -> rootHash
    registry_ids: set[str | None] = field(default_factory=set)

    def __len__(self) -> int:
        return len(self.ids)

    def append_from(self, other: AuditLog, skip: int = 0) -> None:
        """Continue this log with `other`'s rows after its first `skip` (the overlap row)."""
        self.ids.extend(other.ids[skip:])
        self.gens.extend(other.gens[skip:])
        self.roots.update(other.roots)
        self.registry_ids |= other.registry_ids

    def add_page(self, first_offset: int, records: Records) -> None:
        """The rows of a page whose first row is at `first_offset`, from `start_offset` on."""
        skip = max(0, self.start_offset - first_offset)
        if not isinstance(records, pa.StructArray):
            for i, r in enumerate(records[skip:], first_offset + skip):
                self.add(i, r)
            return
        recs = records.slice(skip)
        if recs.null_count:
            offset = first_offset + skip + recs.is_null().to_pylist().index(True)
            raise MalformedPage(f"audit row at offset {offset} is not an object")
        ids, gens = pc.struct_field(recs, "id"), pc.struct_field(recs, "generation")
        if ids.null_count or gens.null_count:
            raise MalformedPage(f"an audit row at offsets {first_offset + skip}.. lacks a "
                                "usable id/generation")
        # (from Arrow's buffers: a page holds a few generations and registry ids, and a Python
        # object per row of each column would cost the event loop ≈0.4 ms a page)
        gen_values = _int64_values(gens)
        self.ids.frombytes(_int64_values(ids).tobytes())
        self.gens.frombytes(gen_values.tobytes())
        k = self.spelling
        gens_seen, roots = _last_per_generation(gen_values, pc.struct_field(recs, k.root_hash))
        self.roots.update(zip(gens_seen, roots, strict=True))
        self.registry_ids.update(pc.unique(pc.struct_field(recs, k.registry_id)).to_pylist())

    def add(self, offset: int, r: Any) -> None:
        if not isinstance(r, dict):
            raise MalformedPage(f"audit row at offset {offset} is not an object")
        try:
            row_id, gen = int(r["id"]), int(r["generation"])
        except (KeyError, TypeError, ValueError) as e:
            raise MalformedPage(
                f"audit row at offset {offset} lacks a usable id/generation: {e}") from e
        self.ids.append(row_id)
        self.gens.append(gen)
        self.roots[gen] = r.get(self.spelling.root_hash)
        self.registry_ids.add(r.get(self.spelling.registry_id))


def _int64_values(column: pa.Array) -> np.ndarray:
    """An int64 column without nulls as a view of its buffer (`to_numpy` would import pandas,
    about a CPU-second)."""
    return np.frombuffer(column.buffers()[1], np.int64, len(column), column.offset * 8)


def _last_per_generation(gens: np.ndarray, values: pa.Array) -> tuple[list[int], list[Any]]:
    """Each generation of `gens` once, with `values` at its last row (what a dict updated row
    by row would keep)."""
    first_from_end = np.unique(gens[::-1], return_index=True)[1]
    last = (len(gens) - 1 - first_from_end).astype(np.int64)
    indices = pa.Array.from_buffers(pa.int64(), len(last), [None, pa.py_buffer(last)])
    return gens[last].tolist(), values.take(indices).to_pylist()


async def crawl_audit(
    client: CadtClient,
    org_uid: str,
    start_offset: int,
    sink: PageSink,
    *,
    page_size: int = PAGE_SIZE,
    on_page: Callable[[int], None] | None = None,
    catalog: Catalog | None = None,
) -> AuditLog:
    """Audit rows of one org from `start_offset` (0-based, ascending order) to the end."""
    path = catalog.audit_endpoint if catalog else "/v1/audit"
    columnar = (catalog, catalog.table("audit")) if catalog else None

    def params(page: int) -> list[tuple[str, Any]]:
        return [("orgUid", org_uid), ("page", page), ("limit", page_size), ("order", "ASC")]

    first_page = start_offset // page_size + 1
    first = await get_page(client, path, params(first_page), columnar)
    pages: dict[int, Page] = {first_page: first}
    rows = AuditLog(start_offset, catalog.spelling if catalog else Spelling())

    async def fetch(p: int) -> None:
        pages[p] = await get_page(client, path, params(p), columnar)

    async def land(p: int) -> None:
        page = pages.pop(p)
        rows.add_page((p - 1) * page_size, page.records)
        await sink(page.records)
        if on_page:
            on_page(len(page.records))

    await land(first_page)
    rest = list(range(first_page + 1, first.page_count + 1))
    window = max(1, client.concurrency * 2)  # bounded read-ahead keeps memory flat
    for i in range(0, len(rest), window):
        chunk = rest[i:i + window]
        await asyncio.gather(*(fetch(p) for p in chunk))
        for p in chunk:
            await land(p)
    if catalog is not None and not catalog.audit_order_total and len(rows) and \
            pc.count_distinct(pa.array(rows.ids)).as_py() < len(rows):
        raise PagesShifted(f"{path}: {org_uid}'s rows moved between pages (ties in the feed's "
                           "order broken differently from one page to the next)")
    return rows
