"""SIGINT / SIGTERM during a sync: stop at the next safe point, within seconds, never hang.

The first signal
- cancels the sync's task: asyncio raises CancelledError at its next await (between pages,
  between organizations, while it waits for DuckDB), so no request or page is half handled;
- halts the sync's DuckDB workers: the running statement is interrupted (an organization's
  commit in progress fails and its transaction rolls back: `_commit` rolls back on any
  exception), and work queued behind it (the next organization's commit) does not start;
- lets a paused test point go on (pipelines/crashpoints.py).
The sync then records the run as `interrupted` with the organizations it had committed.

A second signal, or a clean-up that takes more than FORCE_AFTER seconds, ends the process at
once: DuckDB's write-ahead log keeps the file consistent even then (as the SIGKILL tests show)
and the next sync marks that run `abandoned`.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from collections.abc import Iterable
from types import FrameType, TracebackType
from typing import Any, Protocol

from pipelines import crashpoints

SIGNALS = (signal.SIGINT, signal.SIGTERM)
FORCE_AFTER = 5.0  # seconds between the first signal and the forced exit


def exit_code(signum: int) -> int:
    """The shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
    return 128 + signum


class Haltable(Protocol):
    def halt(self) -> None: ...


class StopOnSignal:
    """While entered (and `enabled`, on the main thread), SIGINT/SIGTERM stop the current task."""

    def __init__(self, workers: Iterable[Haltable], enabled: bool = True) -> None:
        self._workers = list(workers)
        self._enabled = enabled and threading.current_thread() is threading.main_thread()
        self._previous: dict[int, Any] = {}
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._watchdog: threading.Timer | None = None
        self.signum: int | None = None

    @property
    def signal_name(self) -> str | None:
        return signal.Signals(self.signum).name if self.signum else None

    def __enter__(self) -> StopOnSignal:
        if self._enabled:
            self._task = asyncio.current_task()
            self._loop = asyncio.get_running_loop()
            for sig in SIGNALS:
                self._previous[sig] = signal.signal(sig, self._on_signal)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()
        if self._watchdog is not None:
            self._watchdog.cancel()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.signum is not None:  # asked twice: the user wants out now
            _force_exit(signum, "signalled again")
        self.signum = signum
        if self._task is not None and self._loop is not None:
            self._task.cancel()
            self._loop.call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
        for worker in self._workers:
            worker.halt()
        crashpoints.release()
        self._watchdog = threading.Timer(FORCE_AFTER, _force_exit, (signum, "clean-up took "
                                         f"more than {FORCE_AFTER:.0f} s"))
        self._watchdog.daemon = True
        self._watchdog.start()


def _force_exit(signum: int, why: str) -> None:
    os.write(2, f"interrupted ({why}): exiting now; the next sync marks this run abandoned "
                "and converges\n".encode())
    os._exit(exit_code(signum))
