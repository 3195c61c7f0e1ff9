"""Ground truth of the v2 node: every v2 table exactly as ``GET /v2/<resource>/<id>`` serves
its rows, the v2 audit log as ``/v2/audit`` serves it, the v2 organizations map and pick list."""

from __future__ import annotations

from .ledger import Ledger
from .ledger_v2 import render_audit
from .routes_v2 import pick_list
from .schema_v2 import BY_NAME, TRUTH_TABLES
from .serialize import dumps, dumps_body


def snapshot_v2(led: Ledger, table: str) -> list[bytes]:
    """Serialized rows of one v2 truth table (by primary key; audit by id), taken atomically."""
    if table not in TRUTH_TABLES:
        raise KeyError(table)
    v2 = led.v2
    if v2 is None:
        return []
    with led.lock:
        if table == "organizations":
            return [dumps(o) for o in v2.org_map().values()]
        if table == "pickList":
            return [dumps(pick_list())]
        if table == "audit":
            rows = [(e.id, org, e) for org in v2.orgs.values() for e in org.audit]
            rows.sort(key=lambda x: x[0])
            return [dumps_body(render_audit(org, e)) for _, org, e in rows]
        t = v2[BY_NAME[table].name]
        return [t.rows[pk].data for pk in sorted(t.rows)]
