"""Named points where a test can make the sync process die with SIGKILL, or pause it.

`CADT_MIRROR_CRASH_AT=<point>:<n>` kills the process the n-th time it passes <point>;
`CADT_MIRROR_CRASH_AT=<point>:<n>:pause` stops it there instead, after writing
`crashpoint <point>:<n> paused` to stderr, until the process is told to stop (SIGINT/SIGTERM:
see pipelines/sync/interrupts.py). A point paused on a DuckDB thread then fails the way the
statement running there would when interrupted, so a test can signal a sync exactly inside an
organization's commit. Unset (as in any real run) every call is a dictionary lookup and nothing
else. This is how the crash-safety and interrupt tests reach exact places (mid-crawl, between
landing and commit, inside the commit) without timing-based guesses.
"""

from __future__ import annotations

import os
import signal
import threading
import time

POINTS = ("response", "page_landed", "exploded", "before_commit", "mid_commit", "after_commit",
          "between_models")  # (the last: after one data model's sync, before the next one's)
PAUSE_LIMIT = 120.0  # seconds: a paused process that nobody signals goes on by itself

_spec = os.environ.get("CADT_MIRROR_CRASH_AT", "")
_target, _, _rest = _spec.partition(":")
_n, _, _action = _rest.partition(":")
_remaining = int(_n) if _n.isdigit() else 1
_released = threading.Event()


def hit(point: str) -> None:
    global _remaining
    if point != _target:
        return
    _remaining -= 1
    if _remaining != 0:
        return
    if _action != "pause":
        os.kill(os.getpid(), signal.SIGKILL)
    _pause(point)


def release() -> None:
    """The process is stopping: let a paused point go on."""
    _released.set()


def _pause(point: str) -> None:
    """Wait for `release`, in short waits: a process signal may be delivered to any thread, and
    then nothing interrupts a wait on the main thread, where Python runs the signal handler
    (the one that releases the pause) only between two waits."""
    os.write(2, f"crashpoint {point}:{_n} paused\n".encode())
    deadline = time.monotonic() + PAUSE_LIMIT
    while not _released.wait(0.05) and time.monotonic() < deadline:
        pass
