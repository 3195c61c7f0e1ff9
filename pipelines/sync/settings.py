"""What a sync needs to know, from arguments or the environment, and what it reports back."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from pipelines import config
from pipelines.source.client import DEFAULT_API_URL
from pipelines.warehouse.db import database_path, memory_limit_setting


@dataclass(frozen=True)
class SyncSettings:
    api_url: str = DEFAULT_API_URL
    api_key: str | None = field(default=None, repr=False)  # never printed
    database: Path = Path("data/cadt.duckdb")
    concurrency: int = 4
    page_size: int = 1000
    full_refresh: bool = False
    orgs: tuple[str, ...] = ()  # empty = all organizations
    timeout: float = 60.0
    max_retries: int = 8
    backoff_base: float = 0.2  # seconds; doubles per retry (full jitter), capped at 20 s
    # An audit reset re-creates identical history under new ids without moving registryHash;
    # the one-request tail check that notices it runs per org when due (or always with verify).
    verify: bool = False
    publish: bool = True  # refresh the read-only serving copy after a successful sync
    verify_every_hours: float = 24.0
    changes_keep_days: float = 90.0  # how long cadt_mirror.record_changes keeps its rows
    serving: Path | None = None  # the serving copy; None: serving_path(database)
    # A warehouse mirrors one node; syncing it from another needs this (or full_refresh).
    switch_node: bool = False

    def __post_init__(self) -> None:
        """Refuse impossible values here, before a sync starts, whoever built the settings."""
        config.whole_number("concurrency", self.concurrency, *config.CONCURRENCY)
        config.whole_number("page_size", self.page_size, *config.PAGE_SIZE)
        config.whole_number("max_retries", self.max_retries, 0)
        config.positive_number("verify_every_hours", self.verify_every_hours)
        config.positive_number("changes_keep_days", self.changes_keep_days)
        config.positive_number("timeout", self.timeout)
        config.api_url("api_url", self.api_url)
        # paths may come as text (Dagster config, callers' own settings)
        object.__setattr__(self, "database", Path(self.database))
        if self.serving is not None:
            object.__setattr__(self, "serving", Path(self.serving))

    @classmethod
    def from_env(cls, **overrides: object) -> SyncSettings:
        """CADT_API_URL, CADT_API_KEY, CADT_MIRROR_DB, CADT_CONCURRENCY (1..16), CADT_PAGE_SIZE
        (1..1000), CADT_VERIFY_EVERY_HOURS (> 0), CADT_CHANGES_KEEP_DAYS (> 0), each checked under its own name unless an
        override replaces it; CADT_MIRROR_MEMORY_LIMIT is checked too (connections read it)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        env = os.environ.get
        readers: dict[str, Callable[[], object]] = {
            "api_url": lambda: config.api_url("CADT_API_URL",
                                              env("CADT_API_URL") or DEFAULT_API_URL),
            "api_key": lambda: env("CADT_API_KEY") or None,
            "database": lambda: database_path(None),
            "concurrency": lambda: config.whole_number(
                "CADT_CONCURRENCY", env("CADT_CONCURRENCY") or 4, *config.CONCURRENCY),
            "page_size": lambda: config.whole_number(
                "CADT_PAGE_SIZE", env("CADT_PAGE_SIZE") or 1000, *config.PAGE_SIZE),
            "verify_every_hours": lambda: config.positive_number(
                "CADT_VERIFY_EVERY_HOURS", env("CADT_VERIFY_EVERY_HOURS") or 24.0),
            "changes_keep_days": lambda: config.positive_number(
                "CADT_CHANGES_KEEP_DAYS", env("CADT_CHANGES_KEEP_DAYS") or 90.0),
        }
        values = {k: read() for k, read in readers.items() if k not in given}
        values.update(given)
        memory_limit_setting()
        values["database"] = Path(values["database"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]


@dataclass
class OrgReport:
    org_uid: str
    name: str | None
    mode: str  # unchanged | snapshot | incremental | removed | failed
    generation_from: int | None = None
    generation_to: int | None = None
    changes: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    quarantined: int = 0
    reason: str | None = None  # why a snapshot was needed, or the failure
    unknown_audit_tables: list[str] = field(default_factory=list)
    registry_hash: str | None = None  # the root the org's rows now correspond to
    reads: dict[str, str] = field(default_factory=dict)  # per table: how changes were read


@dataclass
class SyncReport:
    sync_id: str
    api_url: str
    started_at: datetime
    finished_at: datetime | None = None
    status: str = "running"  # success | partial | failed | interrupted
    error: str | None = None
    requests: int = 0
    bytes: int = 0
    retries: int = 0
    rate_limited: int = 0  # 429 answers (pacing keeps it at 0 in steady state)
    paced_seconds: float = 0.0  # time held back for the node's rate-limit window
    orgs: list[OrgReport] = field(default_factory=list)
    pick_lists: str = "unchanged"
    published_to: str | None = None
    unknown_fields: dict[str, list[str]] = field(default_factory=dict)
    interrupted_by: str | None = None  # SIGINT / SIGTERM when status is "interrupted"
    committed: list[dict[str, Any]] = field(default_factory=list)  # orgs an interrupted run kept
    bad_input: bool = False  # failed on an argument (e.g. an unknown --org): CLI exit code 2

    @property
    def seconds(self) -> float:
        end = self.finished_at or datetime.now(self.started_at.tzinfo)
        return (end - self.started_at).total_seconds()

    def changes_by_table(self) -> dict[str, tuple[int, int, int]]:
        out: dict[str, list[int]] = {}
        for o in self.orgs:
            for t, c in o.changes.items():
                acc = out.setdefault(t, [0, 0, 0])
                for i in range(3):
                    acc[i] += c[i]
        return {t: (v[0], v[1], v[2]) for t, v in out.items()}


class Progress(Protocol):
    """Where long work reports itself (rich bars in the CLI, logs in Dagster)."""

    def task(self, key: str, description: str, total: int | None = None) -> None: ...
    def advance(self, key: str, n: int = 1) -> None: ...
    def done(self, key: str) -> None: ...
    def log(self, message: str) -> None: ...


class NullProgress:
    def task(self, key: str, description: str, total: int | None = None) -> None:
        pass

    def advance(self, key: str, n: int = 1) -> None:
        pass

    def done(self, key: str) -> None:
        pass

    def log(self, message: str) -> None:
        pass
