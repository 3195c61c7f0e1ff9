"""The newer CADT builds' global rate limit: express-rate-limit 7 with its MemoryStore.

Configured in `src/middleware.js` (index id 65809213471) as ``rateLimit({windowMs: 15 min,
max: 1000, standardHeaders: true, legacyHeaders: false, skip: health endpoints, handler: 429
{message, error: 'RATE_LIMIT_EXCEEDED', success: false, retryAfter}})``, mounted right after
``cors()``: every other request counts, 404s and bad API keys included. MemoryStore: a fixed
window per client IP that starts with the client's first request and restarts with the first
request after it ends; requests over the limit still count. ``standardHeaders: true`` is the
"draft-6" set: ``RateLimit-Policy``, ``-Limit``, ``-Remaining`` and ``-Reset`` (omitted when 0);
over the limit also ``Retry-After``.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from .http import Response, json_response

#: `HEALTH_ENDPOINTS` of the newer middleware: never limited
EXEMPT = frozenset({"/health", "/v1/health", "/v2/health", "/v1/health/wallet",
                    "/v2/health/wallet", "/diagnostics"})
_UNITS = {"s": 1, "m": 60, "h": 3600}
_SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)\s*([smh])\s*")


@dataclass(frozen=True)
class RatePolicy:
    limit: int
    window_ms: int

    @classmethod
    def parse(cls, spec: str) -> RatePolicy:
        """``N/<n>s|m|h``, e.g. ``1000/15m`` (the real configuration) or ``50/2s``."""
        m = _SPEC.fullmatch(spec)
        if not m or int(m.group(1)) < 1 or float(m.group(2)) <= 0:
            raise ValueError(f"rate limit must look like 1000/15m or 50/2s, not {spec!r}")
        return cls(int(m.group(1)), round(float(m.group(2)) * _UNITS[m.group(3)] * 1000))

    def __str__(self) -> str:
        s = self.window_ms / 1000
        return f"{self.limit}/{s:g}s"


@dataclass
class _Client:
    hits: int
    reset_ms: int


@dataclass(frozen=True)
class Verdict:
    limited: bool
    headers: list[tuple[bytes, bytes]]
    reset_s: int


class RateLimiter:
    """One store per configuration (a new policy starts every client afresh, as a restart)."""

    def __init__(self, policy: RatePolicy,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy
        self._clock = clock
        self._clients: dict[str, _Client] = {}
        self._lock = threading.Lock()

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)  # Date.now(): whole milliseconds

    def hit(self, key: str) -> Verdict:
        """Count one request of client `key` and say whether it is over the limit."""
        now = self._now_ms()
        with self._lock:
            c = self._clients.get(key)
            if c is None or c.reset_ms <= now:
                if c is None and len(self._clients) > 10_000:
                    self._prune(now)
                c = self._clients[key] = _Client(0, now + self.policy.window_ms)
            c.hits += 1
            hits, reset_ms = c.hits, c.reset_ms
        return self._verdict(hits, reset_ms, now)

    def _prune(self, now: int) -> None:
        self._clients = {k: c for k, c in self._clients.items() if c.reset_ms > now}

    def _verdict(self, hits: int, reset_ms: int, now: int) -> Verdict:
        p = self.policy
        reset_s = max(0, math.ceil((reset_ms - now) / 1000))
        headers = [(b"RateLimit-Policy", f"{p.limit};w={math.ceil(p.window_ms / 1000)}".encode()),
                   (b"RateLimit-Limit", str(p.limit).encode()),
                   (b"RateLimit-Remaining", str(max(p.limit - hits, 0)).encode())]
        if reset_s:
            headers.append((b"RateLimit-Reset", str(reset_s).encode()))
        limited = hits > p.limit
        if limited:
            headers.append((b"Retry-After", str(reset_s).encode()))
        return Verdict(limited, headers, reset_s)


def too_many_requests(reset_s: int) -> Response:
    """The CADT handler's 429 body (`retryAfter`: seconds until the window resets)."""
    return json_response({"message": "Too many requests. Please slow down and try again later.",
                          "error": "RATE_LIMIT_EXCEEDED", "success": False,
                          "retryAfter": reset_s}, 429)
