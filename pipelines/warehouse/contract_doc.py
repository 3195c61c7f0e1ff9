"""Write the raw-table part of docs/warehouse-contract.md from the catalogues:
`python -m pipelines.warehouse.contract_doc` (`--check`: exit 1 when it is out of date).

The generated part (schemas `cadt_v1` and `cadt_v2`, their tables, columns and keys, the v2
field names that land in other columns, the mirror's bookkeeping tables) lies between the
BEGIN / END markers below and is never edited by hand; a test fails when it is out of date.
Everything outside the markers (the marts part) is hand-written and kept exactly as it is.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pipelines.source.catalog import Catalog, snake_case
from pipelines.source.catalog_v1 import V1
from pipelines.source.catalog_v2 import _CODE, DICTIONARY_PATH, V2
from pipelines.warehouse.schema import MIRROR_SCHEMA, describe_contract

DOC = Path(__file__).parents[2] / "docs" / "warehouse-contract.md"
BEGIN = ("<!-- BEGIN GENERATED raw tables: `python -m pipelines.warehouse.contract_doc` writes "
         "everything down to the END marker from pipelines/source/catalog_v1.py and "
         "catalog_v2.py; do not edit by hand -->")
END = "<!-- END GENERATED raw tables (hand-written sections follow) -->"

def _cols(names: frozenset[str]) -> str:
    return " and ".join(f"`{n}` (`{snake_case(n)}`)" for n in sorted(names))


HEADER = f"""# Warehouse contract

The DuckDB file at `CADT_MIRROR_DB` (default `data/cadt.duckdb`) holds, in schema `{V1.schema}`,
every CADT v1 table exactly as the source node holds it. Column names are the API field names in
snake_case; the mirror's own columns start with `_`. Current-state tables equal the source (a
deleted record is gone; children of a deleted project stay, as they do on the node); `audit` keeps
the node's full change history; schema `{V2.schema}` holds data model v2 the same way (below).
Keys are unique (enforced by the sync, checked by the tests);
there are no declared constraints.

Types: ISO dates and the node's SQLite-style dates -> `TIMESTAMPTZ` (UTC); unix-second strings
(`timeStaged`, `onchainConfirmationTimeStamp`) -> `TIMESTAMPTZ`; integers -> `BIGINT`; booleans ->
`BOOLEAN`; everything else text, exactly as sent (pick-list values are never rewritten here; the
dbt staging layer normalises). A value that cannot be read as its type is stored as NULL and the
whole record is copied to `{MIRROR_SCHEMA}.quarantine` with the reason.

Node-local columns. A CADT node stamps {_cols(V1.node_stamped)} itself when it first ingests a
record (`updatedAt` is not moved by later edits) and takes {_cols(V1.kept_if_absent)} from the
record's value, keeping its stored one when a later value lacks them. The mirror reads these from
the API. For rows with `_source = 'audit'` (records the API does not show, rebuilt from the audit
feed's values, e.g. children added to a project that was deleted before the mirror saw them) the
node's own times cannot be known: those columns are **NULL** unless the mirror saw the record on
the API before, or the value carried them. They are never borrowed from other records.

Mirror bookkeeping, schema `{MIRROR_SCHEMA}`:

| table | one row per |
|---|---|
| `sync_runs` | sync run of one data model (`catalog_version`): start, end, status, error, requests, bytes, JSON summary |
| `sync_changes` | run × organization × table: rows inserted, updated, deleted |
| `sync_state` | organization and data model (`catalog_version` `v1` / `v2`): registry id and hash, generation, audit position, last sync |
| `quarantine` | record that could not be landed as is: table, key, reason, raw JSON |
| `record_changes` | record a sync inserted, updated (changed columns, before and after) or deleted (the row as it was); an organization's first snapshot is one `snapshot` row per table |
| `http_cache` | URL whose ETag lets the next sync ask `If-None-Match` |
| `node` | the CADT node this warehouse mirrors (URL, governance body, data-model and API version) |
| `demo` | present only in a warehouse `cadt-mirror demo` made (the only kind it overwrites) |
| `marts_builds` | `cadt-mirror build` / `run`: dbt invocation id, start, end, status, selection, arguments, digest of the dbt project; tells a publish whether the marts belong to the raw tables, and a build whether it has anything to do |
| `published` | only in a serving copy: the snapshot's id, time, node, generation per organization (JSON), contents (`raw + marts` / `raw only`) and marts build |

Run statuses in `sync_runs`: `running`, `success`, `partial` (some organizations failed),
`failed`, `interrupted` (SIGINT/SIGTERM: the organizations committed before it are listed),
`abandoned` (left `running` by a killed process; marked by the next sync).

"""


V2_HEADER = f"""## Data model v2

Schema `{V2.schema}` mirrors the node's `/v2` routes (CADT data model 2.0, served beside v1 by
newer builds): one table per v2 resource named by its DataLayer prefix, the v2 change feed
(`audit`) and organizations map (`organizations`). `cadt-mirror sync` detects whether the node
serves v2 (`GET /v2/organizations`: a CADT 404 means it does not) and mirrors it by default
(`--data-model v1|v2|all`, `CADT_DATA_MODELS`). Tables, fields, types and descriptions come
from CAD Trust's data dictionary (`{DICTIONARY_PATH.name}`), corrected where the newest cadt code
serves something else (below). The same column rule and typing as v1, plus:

- Decimals (`unitCount`, `estimationUnitCount`, AEF quantities) are `DECIMAL(38,6)`, exact,
  whether the node sends JSON numbers (SQLite) or numeric strings (MySQL); date-only fields
  (`unitStatusDate`, `…Date`) are `TIMESTAMPTZ` at midnight UTC.
- An organization is a v2 organization iff `GET /v2/organizations` lists it. It can have a v1
  store, a v2 store or both: an upgraded registry keeps its orgUid, so it has a row in
  `{V1.schema}.organizations` and one in `{V2.schema}.organizations` with the same `org_uid`
  (and a `sync_state` row per `catalog_version`). The two stores are separate data: nothing is
  merged here (the marts say which model a figure comes from).
- The node's v2 tables hold every organization's rows together, and child routes select an
  organization only through their parents, so the v2 tables are read node-wide; `org_uid` /
  `created_by_org_uid` are the node's own (nullable on rows created before those columns).
- Audit rows and organization entries are snake_case on the API, so are their columns; the
  feed's `change` keeps the node's JSON verbatim (legacy spellings included).
- Node-local columns: {_cols(V2.node_stamped)} stamped by the node, {_cols(V2.kept_if_absent)}
  kept from the value, as for v1.

"""


def _field_names(cat: Catalog) -> str:
    """The v2 field names that land in another column than their own snake_case, and the
    dictionary's names the code serves differently."""
    rows, stamps = [], set()
    for t in cat.tables:
        code = _CODE.get(t.name)
        columns = {f.api_name: f.column for f in t.fields}
        for old, new in t.aliases:
            if old == snake_case(new):  # the same column: a key spelling, said once below
                stamps.add(f"`{old}` for `{new}`")
                continue
            rows.append(f"| `{t.name}` | `{old}` | `{columns.get(new, snake_case(new))}` | "
                        "legacy spelling in older records and feed values |")
        if code is None:
            continue
        for dict_name, served in code.rename.items():
            rows.append(f"| `{t.name}` | `{dict_name}` (dictionary) | "
                        f"`{columns.get(served, snake_case(served))}` | the node serves it as "
                        f"`{served}` (`{code.source}`) |")
        for dropped in code.drop:
            rows.append(f"| `{t.name}` | `{dropped}` (dictionary) | – | not served by the node "
                        f"(`{code.source}`) |")
    return "\n".join([
        f"### Field names that land in other columns (`{cat.schema}`)", "",
        "A record or feed value that uses the name on the left is stored in the column on the "
        "right (the current name wins when both are present).", "",
        "| table | name sent / documented | column | why |", "|---|---|---|---|", *rows, "",
        "Every data table also accepts " + " and ".join(sorted(stamps)) + " (the keys "
        "Sequelize emits for `project` and `unit`, cadt-v2-facts §5.1): same column.", "", ""])


def generated() -> str:
    """The generated part, markers included."""
    return "\n".join([BEGIN, HEADER + describe_contract(V1), V2_HEADER + _field_names(V2)
                      + describe_contract(V2), END, ""])


def _legacy_end(text: str) -> int:
    """Where the hand-written part of a document from before the markers starts: at its first
    level-2 heading that is not a generated schema section (else at the end)."""
    at = text.find("\n## Schema `cadt_v1`")
    if at < 0:
        return len(text)
    for i in range(at + 1, len(text)):
        if text.startswith("\n## ", i) and not text.startswith("\n## Schema `", i):
            return i + 1
    return len(text)


def render(text: str | None = None) -> str:
    """The document with its generated part brought up to date: `text` (default: the file
    as it is now) keeps everything outside the markers."""
    if text is None:
        text = DOC.read_text() if DOC.exists() else ""
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
    elif text.startswith("# Warehouse contract"):  # fully generated before the markers
        before, after = "", text[_legacy_end(text):]
    else:
        before, after = text, ""
    return before + generated() + ("\n" + after if after else "")


if __name__ == "__main__":
    if "--check" in sys.argv:
        sys.exit(0 if DOC.read_text() == render() else 1)
    DOC.write_text(render())
    print(f"wrote {DOC}")
