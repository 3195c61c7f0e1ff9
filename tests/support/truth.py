"""Compare a mirror with the simulator's ground truth, table by table, column by column.

The truth rows are API-shaped JSON; they are typed here in plain Python (independently of the
SQL that lands data), following the warehouse contract, so a landing bug cannot hide itself.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import duckdb

from pipelines.source.catalog import Catalog, FieldType, Table
from pipelines.source.catalog_v1 import V1

TRUTH_NAMES = {t.name: t.api_name for t in V1.tables}  # projects -> projects, unit_labels -> label_unit


def _typed(ft: FieldType, v: Any) -> Any:
    if v is None:
        return None
    if ft is FieldType.TEXT:
        return v if isinstance(v, str) else json.dumps(v, separators=(",", ":"))
    if isinstance(v, str) and not v.strip():
        return None
    try:
        if ft is FieldType.BIGINT:
            return int(float(v))
        if ft is FieldType.DECIMAL:
            return Decimal(str(v)).quantize(Decimal("0.000001"))
        if ft is FieldType.JSON:
            return json.dumps(v, separators=(",", ":")) if not isinstance(v, str) else v
        if ft is FieldType.BOOLEAN:
            return v if isinstance(v, bool) else str(v).lower() in ("true", "1", "t")
        if ft is FieldType.TIMESTAMP:
            s = str(v)
            if " +" in s:  # SQLite style
                return datetime.strptime(s, "%Y-%m-%d %H:%M:%S.%f %z")
            d = datetime.fromisoformat(s.replace("Z", "+00:00"))
            return d if d.tzinfo else d.replace(tzinfo=UTC)
        if ft is FieldType.UNIX_SECONDS:
            return datetime.fromtimestamp(float(v), UTC)
    except (ValueError, OverflowError):
        return None
    return v


def truth_rows(sim: Any, table: Table, catalog: Catalog = V1) -> list[tuple]:
    model = {} if catalog is V1 else {"model": catalog.version}
    if table.name == "pick_lists":
        (pick,) = sim.truth("pickList", **model)
        return sorted(
            (name, i, v if isinstance(v, str) else json.dumps(v, separators=(",", ":")))
            for name, values in pick.items() for i, v in enumerate(values)
        )
    rows = sim.truth(TRUTH_NAMES[table.name] if catalog is V1 else table.name, **model)
    alias = {new: old for old, new in table.aliases}

    def get(r: dict, name: str) -> Any:
        return r[name] if name in r else r.get(alias.get(name, name))

    return sorted(tuple(_typed(f.type, get(r, f.api_name)) for f in table.fields)
                  for r in rows)


def mirror_rows(con: duckdb.DuckDBPyConnection, table: Table,
                catalog: Catalog = V1) -> list[tuple]:
    cols = ", ".join(f'"{c}"' for c in table.columns)
    rows = con.execute(f"SELECT {cols} FROM {catalog.qualified(table.name)}").fetchall()
    json_cols = [i for i, f in enumerate(table.fields) if f.type is FieldType.JSON]
    if json_cols:  # JSON text in its compact form, as the truth side writes it
        rows = [tuple(json.dumps(json.loads(v), separators=(",", ":"))
                      if i in json_cols and v is not None else v for i, v in enumerate(r))
                for r in rows]
    return sorted(rows, key=_sort_key)


def unknowable(con: duckdb.DuckDBPyConnection, table: Table, catalog: Catalog = V1,
               shown: set[Any] | None = None) -> dict[tuple, set[int]]:
    """Per key of a row rebuilt from the feed (`_source = 'audit'`) that the API cannot show,
    the positions of the node-local columns the mirror left NULL: the node's values there
    cannot be known, and the contract says NULL. Any value the mirror does hold must still
    equal the truth. Only nested children qualify, and only those the API does not show
    (`shown`: the keys of the rows it does show); a record the API shows must carry the
    node's own times, so for it nothing is blanked."""
    local = [i for i, f in enumerate(table.fields)
             if f.api_name in catalog.node_stamped | catalog.kept_if_absent]
    parent = catalog.parent_of(table)
    if not local or not table.audit_names or parent is None:
        return {}
    shown = shown or set()
    keys = ", ".join(f'"{c}"' for c in table.key_columns)
    nulls = ", ".join(f'"{table.fields[i].column}" IS NULL' for i in local)
    out = {}
    for row in con.execute(f"SELECT {keys}, {nulls} FROM {catalog.qualified(table.name)} "
                           "WHERE _source = 'audit'").fetchall():
        n = len(table.key_columns)
        k, flags = row[:n], row[n:]
        if k[0] not in shown:
            out[tuple(k)] = {i for i, null in zip(local, flags, strict=True) if null}
    return out


# A unit's label_unit rows are nested under the unit's labels: shown only while that label
# exists too (the catalogue declares the nesting, not this second link)
_SHOWN_THROUGH = {("v1", "unit_labels"): ("labelId", "labels")}


def _shown_rows(sim: Any, catalog: Catalog, table: Table) -> set[Any]:
    """Keys of `table`'s rows the source's API shows (nested under a parent that exists)."""
    parent = catalog.parent_of(table)
    if parent is None or len(parent.primary_key) != 1 or len(table.primary_key) != 1:
        return set()
    parents = {r[0] for r in truth_rows(sim, parent, catalog)}
    link = next(n for n, f in enumerate(table.fields) if f.api_name == table.parent_key)
    through = _SHOWN_THROUGH.get((catalog.version, table.name))
    via: tuple[int, set[Any]] | None = None
    if through is not None:
        field, via_table = through
        via = (next(n for n, f in enumerate(table.fields) if f.api_name == field),
               {r[0] for r in truth_rows(sim, catalog.table(via_table), catalog)})
    return {r[0] for r in truth_rows(sim, table, catalog)
            if r[link] in parents and (via is None or r[via[0]] in via[1])}


def _blank(rows: list[tuple], holes: dict[tuple, set[int]], nkey: int) -> list[tuple]:
    if not holes:
        return rows
    return [tuple(None if i in holes.get(r[:nkey], ()) else v for i, v in enumerate(r))
            for r in rows]


def _sort_key(row: tuple) -> tuple:
    return tuple((x is None, x if x is not None else 0) for x in row)


def diff(sim: Any, database: str, tables: list[str] | None = None, limit: int = 5,
         catalog: Catalog = V1) -> dict[str, str]:
    """{table: description of the first differences}; empty when the mirror equals the truth."""
    out: dict[str, str] = {}
    con = duckdb.connect(str(database), read_only=True)
    con.execute("SET TimeZone = 'UTC'")
    try:
        for table in catalog.tables:
            if tables and table.name not in tables:
                continue
            holes = unknowable(con, table, catalog, _shown_rows(sim, catalog, table))
            nkey = len(table.primary_key)
            want = sorted(_blank(truth_rows(sim, table, catalog), holes, nkey), key=_sort_key)
            got = mirror_rows(con, table, catalog)
            if want != got:
                key = len(table.primary_key)
                w = {r[:1] if key == 1 else r[:2]: r for r in want}
                g = {r[:1] if key == 1 else r[:2]: r for r in got}
                missing = [k for k in w if k not in g][:limit]
                extra = [k for k in g if k not in w][:limit]
                changed = []
                for k in w:
                    if k in g and w[k] != g[k]:
                        cols = [c for c, a, b in zip(table.columns, w[k], g[k], strict=True) if a != b]
                        changed.append((k, {c: (w[k][table.columns.index(c)],
                                                g[k][table.columns.index(c)]) for c in cols}))
                        if len(changed) >= limit:
                            break
                dups = len(got) - len(g)
                out[table.name] = (f"truth {len(want)} rows, mirror {len(got)} (duplicate keys: "
                                   f"{dups}); missing {missing}; extra {extra}; changed {changed}")
    finally:
        con.close()
    return out
