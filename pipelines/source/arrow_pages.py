"""Reading a list page straight into Arrow columns, without Python objects per record.

A 1,000-unit page is 1.5 MB of JSON. Parsing it with orjson into dicts and then converting the
dicts to Arrow costs about three times what Arrow's own JSON reader needs to build the columns
(≈10 ms against ≈4 ms, measured), and the reader runs in C++ without holding the GIL, so the
fetcher and the DuckDB threads keep running meanwhile.
The reader is strict: the page must be one object `{page, pageCount, data}` whose records
have exactly the catalogue's fields (and nesting) with the JSON types CADT normally sends.
Anything else (an unknown field, a number where text is expected, an entry that is not an
object, a second document) makes `parse_page` return None, and the caller reads the page the
general way, which keeps unknown fields and quarantines unreadable values.
"""

from __future__ import annotations

import io
import os
from functools import cache
from typing import Any

import pyarrow as pa
import pyarrow.json as pj

from pipelines.source.catalog import Catalog, FieldType, Nested, Table

Records = list[Any] | pa.StructArray  # one page's records: parsed JSON values, or Arrow columns

# The JSON type CADT sends for each warehouse type; everything else arrives as a string.
JSON_ARROW_TYPES = {
    FieldType.BIGINT: pa.int64(), FieldType.DOUBLE: pa.float64(), FieldType.BOOLEAN: pa.bool_(),
}


def record_type(catalog: Catalog, table: Table, nested: tuple[Nested, ...]) -> pa.StructType:
    """The Arrow shape of one well-typed record of `table`, its nested children included."""
    fields = [pa.field(f.api_name, JSON_ARROW_TYPES.get(f.type, pa.string()))
              for f in table.fields]
    for n in nested:
        child = record_type(catalog, catalog.table(n.table), n.children)
        fields.append(pa.field(n.key, pa.list_(child) if n.many else child))
    return pa.struct(fields)


@cache
def _parse_options(catalog: Catalog, table_name: str) -> pj.ParseOptions:
    table = catalog.table(table_name)
    schema = pa.schema([("page", pa.int64()), ("pageCount", pa.int64()),
                        ("data", pa.list_(record_type(catalog, table, table.nested)))])
    return pj.ParseOptions(explicit_schema=schema, unexpected_field_behavior="error")


# Pages are read on the event loop's worker threads and split on the lander's. Arrow's default
# allocator (mimalloc) keeps what each thread frees for that thread's later use; jemalloc hands
# it back: the full sync's peak RSS is ≈50 MiB lower at scale 300 and its CPU no higher (measured
# in alternating runs; the system allocator saves as much memory). Set for the process, as
# `ARROW_DEFAULT_MEMORY_POOL=jemalloc` would, unless the environment chose a pool.
# jemalloc keeps the pages a page's columns freed for about a second before handing them back
# (its decay time); pages come and go all the time here, so a tenth of that. Issue 14, full
# sync at scale 1000, alternating runs: 0 ms took the peak RSS ≈40 MiB lower but cost ≈10% more
# CPU (madvise calls); 100 ms: median peak 638 against 653 MiB, CPU +2% (3 runs each; 300 ms:
# 650 MiB).
def _pool() -> pa.MemoryPool:
    try:
        pool = pa.jemalloc_memory_pool()
    except NotImplementedError:  # a pyarrow build without jemalloc
        return pa.system_memory_pool()
    pa.jemalloc_set_decay_ms(100)
    return pool


if not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
    pa.set_memory_pool(_pool())


def parse_page(body: bytes, catalog: Catalog, table: Table) -> tuple[pa.StructArray, int] | None:
    """The page's records as one struct array, and its pageCount; None when the strict reader
    cannot take the page (the caller then parses it the general way)."""
    try:
        parsed = pj.read_json(
            io.BytesIO(body),
            read_options=pj.ReadOptions(use_threads=False, block_size=len(body) + 64),
            parse_options=_parse_options(catalog, table.name),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None
    if parsed.num_rows != 1:
        return None
    page_count = parsed.column("pageCount")[0].as_py()
    data = parsed.column("data").combine_chunks()
    if page_count is None or data.null_count:
        return None
    return data.flatten(), page_count
