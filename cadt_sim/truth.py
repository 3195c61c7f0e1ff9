"""Ground truth: every node table exactly as the read API serializes it (flat rows)."""

from __future__ import annotations

from collections.abc import Iterator

from .generator import picklist
from .ledger import Ledger, render_audit
from .schema import BY_NAME, TRUTH_TABLES
from .serialize import dumps, dumps_body


def snapshot(led: Ledger, table: str) -> list[bytes]:
    """Serialized rows of one table, taken atomically under the ledger lock."""
    if table not in TRUTH_TABLES:
        raise KeyError(table)
    with led.lock:
        if table == "organizations":
            return [dumps(o) for o in led.org_map().values()]
        if table == "pickList":
            return [dumps(picklist())]
        if table == "audit":
            rows = []
            for org in led.orgs.values():
                rows.extend((e.id, org, e) for e in org.audit)
            rows.sort(key=lambda x: x[0])
            return [dumps_body(render_audit(org, e)) for _, org, e in rows]
        t = led.db[BY_NAME[table].name]
        return [t.rows[pk].data for pk in sorted(t.rows)]


def ndjson(rows: list[bytes], chunk: int = 2000) -> Iterator[bytes]:
    for i in range(0, len(rows), chunk):
        yield b"\n".join(rows[i:i + chunk]) + b"\n"
