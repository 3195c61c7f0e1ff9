"""Named points where a test can make the sync process die with SIGKILL.

`CADT_MIRROR_CRASH_AT=<point>:<n>` kills the process the n-th time it passes <point>. Unset (as in
any real run) every call is a dictionary lookup and nothing else. This is how the crash-safety
tests reach exact places (mid-crawl, between landing and commit, inside the commit) without
timing-based guesses.
"""

from __future__ import annotations

import os
import signal

POINTS = ("response", "page_landed", "exploded", "before_commit", "mid_commit", "after_commit")

_spec = os.environ.get("CADT_MIRROR_CRASH_AT", "")
_target, _, _n = _spec.partition(":")
_remaining = int(_n) if _n.isdigit() else 1


def hit(point: str) -> None:
    global _remaining
    if point != _target:
        return
    _remaining -= 1
    if _remaining <= 0:
        os.kill(os.getpid(), signal.SIGKILL)
