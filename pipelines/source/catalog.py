"""Vocabulary for declaring CADT tables once.

A catalogue lists every table the API serves: its API field names, the warehouse type of each
field, its primary key, where it is nested inside which endpoint's records, and the names the
audit feed uses for it. Landing SQL, DDL, state handling, tests and docs are all generated from it,
so v1 and v2 are two catalogues, not two code paths.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum


class FieldType(StrEnum):
    """Warehouse type of an API field. The API sends JSON; these say how we type it."""

    TEXT = "VARCHAR"
    BIGINT = "BIGINT"
    DOUBLE = "DOUBLE"
    BOOLEAN = "BOOLEAN"
    DECIMAL = "DECIMAL(38,6)"  # exact: a JSON number or a numeric string (MySQL-backed nodes)
    TIMESTAMP = "TIMESTAMPTZ"  # ISO-8601 string (or SQLite-style in audit values)
    UNIX_SECONDS = "UNIX_SECONDS"  # unix-second number or numeric string -> TIMESTAMPTZ
    JSON = "JSON"

    @property
    def sql_type(self) -> str:
        return "TIMESTAMPTZ" if self is FieldType.UNIX_SECONDS else self.value


_CAMEL_1 = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_2 = re.compile(r"([A-Z]+)([A-Z][a-z])")


def snake_case(api_name: str) -> str:
    """`warehouseProjectId` -> `warehouse_project_id`, `coveredByNDC` -> `covered_by_ndc`."""
    s = _CAMEL_2.sub(r"\1_\2", api_name)
    s = _CAMEL_1.sub(r"\1_\2", s)
    return s.lower()


@dataclass(frozen=True)
class Field:
    api_name: str
    type: FieldType = FieldType.TEXT
    description: str = ""

    @property
    def column(self) -> str:
        return snake_case(self.api_name)


@dataclass(frozen=True)
class Nested:
    """A child table carried inside a parent record under `key` (array or single object)."""

    key: str
    table: str
    many: bool = True
    children: tuple[Nested, ...] = ()  # grandchildren inside each child record


@dataclass(frozen=True)
class Read:
    """How a list endpoint re-reads given records, within the node's request validation.

    `ids_param`: a repeated query parameter taking up to `ids_max` keys (projects: `projectIds`,
    200 in `src/validations/projects.validations.js`). Without it, keys go in
    `filter=<pk>:[...]:in`, whose whole value may be at most `filter_max` characters (units:
    100, `src/validations/units.validations.js`), i.e. two UUIDs a request.
    `since_field`: a node-local first-ingest time the endpoint filters on (`updatedAt`), which
    finds records the node ingested after a point in time.
    """

    ids_param: str | None = None
    ids_max: int = 0
    filter_max: int | None = None
    # ... and the part between the field and the operator at most `value_max` (v2 project and
    # unit controllers: "Filter value exceeds maximum length" over 5000)
    value_max: int | None = None
    since_field: str | None = "updatedAt"
    # the attribute name `filter` takes for it when it differs (v2 project/unit models map
    # `updatedAt` to `updated_at`: `filter=updatedAt:...` is "no such column")
    since_filter: str | None = None
    keyset: bool = True  # `order=<pk>:ASC&filter=<pk>:<last>:gt` (else page offsets only)
    by_path: bool = False  # no filter at all: one record a request, `GET <endpoint>/<key>`
    # `orgUid` selects exactly the rows whose own `orgUid` holds it (v2 project and unit: a
    # NOT NULL column; child routes join through their parents), so a count or a re-read can
    # cover one organization's rows
    owned: bool = False


@dataclass(frozen=True)
class Table:
    """One CADT table as the warehouse holds it."""

    name: str  # warehouse table name (snake_case)
    api_name: str  # the source's own name (SQLite table / model)
    primary_key: tuple[str, ...]  # API field names
    fields: tuple[Field, ...]
    description: str = ""
    endpoint: str | None = None  # list endpoint serving it as top-level records
    nested: tuple[Nested, ...] = ()  # children inside each record of this table
    audit_names: tuple[str, ...] = ()  # `table` values the audit feed uses for it
    parent_key: str | None = None  # API field linking a child to its top-level parent
    # How the endpoint reads given records (node request limits, see Read):
    read: Read | None = None
    # (legacy spelling, current field): older records and audit values use the first
    aliases: tuple[tuple[str, str], ...] = ()

    @property
    def columns(self) -> list[str]:
        return [f.column for f in self.fields]

    @property
    def key_columns(self) -> list[str]:
        return [snake_case(k) for k in self.primary_key]


@dataclass(frozen=True)
class Spelling:
    """How the API spells the fields the engine reads itself: in organization entries (the
    registry store and its last root) and in audit rows (each row's root)."""

    org_uid: str = "orgUid"
    registry_id: str = "registryId"
    registry_hash: str = "registryHash"
    root_hash: str = "rootHash"


@dataclass(frozen=True)
class Catalog:
    """All tables of one CADT data-model version."""

    version: str  # "v1" / "v2"
    schema: str  # warehouse schema, e.g. "cadt_v1"
    tables: tuple[Table, ...]
    audit_ignore: frozenset[str] = field(default_factory=frozenset)  # e.g. comment/author
    audit_endpoint: str = ""  # the per-organization change feed
    # Columns a node stamps itself when it ingests a record (never taken from the value:
    # unknowable for a record the API does not show) ...
    node_stamped: frozenset[str] = field(default_factory=frozenset)
    # ... and columns taken from the value when it has them, else kept from the stored row.
    kept_if_absent: frozenset[str] = field(default_factory=frozenset)
    spelling: Spelling = field(default_factory=Spelling)
    # False: audit pages are ordered by a key with ties (v2: the confirmation time only), so
    # a row can move from one page to another between two requests
    audit_order_total: bool = True
    # How the feed's `change` values name fields: "api" (the API's names, v1) or "column"
    # (the snake_case column names, v2: `src/tasks/sync-registries-v2.js`)
    feed_keys: str = "api"
    # What a snapshot covers: "org" (v1: every row belongs to one organization's store and
    # `orgUid` selects it) or "node" (v2: the node's tables hold every organization's rows and
    # child routes select them only through their parents, so the node is read as one whole)
    partition: str = "org"

    def table(self, name: str) -> Table:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"catalogue {self.version} has no table {name!r}")

    def value_key(self, api_name: str) -> str:
        """The name the feed's values give the field `api_name`."""
        return snake_case(api_name) if self.feed_keys == "column" else api_name

    def qualified(self, name: str) -> str:
        return f"{self.schema}.{name}"

    @property
    def current_state(self) -> tuple[Table, ...]:
        """Tables holding the source's current state: exactly the ones the audit feed changes."""
        return tuple(t for t in self.tables if t.audit_names)

    @property
    def crawled(self) -> tuple[Table, ...]:
        """Current-state tables served as top-level records of a list endpoint."""
        return tuple(t for t in self.current_state if t.endpoint)

    def parent_of(self, table: Table) -> Table | None:
        """The crawled table whose records nest `table`'s (by `parent_key`); None for a table
        served by an endpoint of its own."""
        if table.parent_key is None or table.endpoint:
            return None
        return next((t for t in self.crawled if t.primary_key[0] == table.parent_key), None)
