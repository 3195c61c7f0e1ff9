"""Progress reporting for long syncs: rich bars on a terminal, plain log lines elsewhere."""

from __future__ import annotations

import logging
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

log = logging.getLogger("pipelines.sync")


class RichProgress:
    """Implements pipelines.sync.settings.Progress with one bar per org/table crawl."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self._bars = Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("records"), TimeElapsedColumn(),
            console=console, transient=True,
        )
        self._ids: dict[str, int] = {}

    def __enter__(self) -> RichProgress:
        self._bars.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bars.__exit__(*exc)

    def task(self, key: str, description: str, total: int | None = None) -> None:
        self._ids[key] = self._bars.add_task(description, total=total)

    def advance(self, key: str, n: int = 1) -> None:
        if key in self._ids:
            self._bars.advance(self._ids[key], n)

    def done(self, key: str) -> None:
        task_id = self._ids.pop(key, None)
        if task_id is not None:
            self._bars.remove_task(task_id)

    def log(self, message: str) -> None:
        self._bars.console.print(f"[dim]{message}[/dim]")


class LogProgress:
    """Progress as log lines (Dagster, non-interactive runs), at most one line per 5 s per task."""

    def __init__(self, logger: logging.Logger | None = None, every: float = 5.0) -> None:
        self.logger = logger or log
        self.every = every
        self._tasks: dict[str, list] = {}

    def task(self, key: str, description: str, total: int | None = None) -> None:
        self._tasks[key] = [description, 0, time.monotonic()]

    def advance(self, key: str, n: int = 1) -> None:
        t = self._tasks.get(key)
        if t is None:
            return
        t[1] += n
        if time.monotonic() - t[2] >= self.every:
            t[2] = time.monotonic()
            self.logger.info("%s: %d records", t[0], t[1])

    def done(self, key: str) -> None:
        t = self._tasks.pop(key, None)
        if t is not None:
            self.logger.info("%s: %d records, done", t[0], t[1])

    def log(self, message: str) -> None:
        self.logger.info(message)
