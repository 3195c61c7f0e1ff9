"""Ground truth: every node table exactly as the read API serializes it (flat rows), the audit
log, organizations map and pick list; of the v1 node and (``snapshot_v2``) of the v2 node, whose
rows are as ``GET /v2/<resource>/<id>`` serves them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from . import ledger, ledger_v2, schema, schema_v2
from .datalayer import DataLayer
from .generator import picklist
from .generator_v2 import picklists
from .ledger import Ledger
from .serialize import dumps, dumps_body


def _snapshot(store: DataLayer, tables: Any, table: str, pick_list: Callable[[], Any],
              render_audit: Callable[[Any, Any], dict]) -> list[bytes]:
    """Serialized rows of one truth table (by primary key; audit by id), taken atomically."""
    with store.lock:
        if table == "organizations":
            return [dumps(o) for o in store.org_map().values()]
        if table == "pickList":
            return [dumps(pick_list())]
        if table == "audit":
            rows = [(e.id, org, e) for org in store.orgs.values() for e in org.audit]
            rows.sort(key=lambda x: x[0])
            return [dumps_body(render_audit(org, e)) for _, org, e in rows]
        t = tables[table]
        return [t.rows[pk].data for pk in sorted(t.rows)]


def snapshot(led: Ledger, table: str) -> list[bytes]:
    """A v1 truth table (``schema.TRUTH_TABLES``)."""
    if table not in schema.TRUTH_TABLES:
        raise KeyError(table)
    return _snapshot(led, led.db, table, picklist, ledger.render_audit)


def snapshot_v2(led: Ledger, table: str) -> list[bytes]:
    """A v2 truth table (``schema_v2.TRUTH_TABLES``); none on a node without v2."""
    if table not in schema_v2.TRUTH_TABLES:
        raise KeyError(table)
    if led.v2 is None:
        return []
    return _snapshot(led.v2, led.v2, table, picklists, ledger_v2.render_audit)


def ndjson(rows: list[bytes], chunk: int = 2000) -> Iterator[bytes]:
    for i in range(0, len(rows), chunk):
        yield b"\n".join(rows[i:i + chunk]) + b"\n"
