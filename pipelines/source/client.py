"""Async HTTP client for a CADT node: bounded concurrency, retries, ETags, pacing, counters.

The API key is sent as `x-api-key` and kept out of every repr, log line and error message.
Transient failures (connection errors, cut or truncated bodies, 5xx) are retried with
exponential backoff and full jitter, honouring `Retry-After`; anything else fails fast with the
server's own message, or, when the answer is not CADT's at all, says so.

Newer CADT builds rate-limit every client IP (express-rate-limit: 1000 requests / 15 min,
`RateLimit-*` headers). The client reads those headers on every answer and paces itself so that
a long sync gets no 429 in steady state; a 429 it gets anyway waits for the window and is
retried without using up the retry budget.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from pipelines import crashpoints

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://observer.climateactiondata.org/api/v1"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
ORGS_PATH = "/v1/organizations"
WINDOW_MARGIN = 0.25  # seconds added to the node's reset time: clocks and latency
MAX_RATE_LIMITED = 30  # 429s in a row for one request before giving up

#: called with (seconds, reason) when the client starts waiting for the node's window
WaitCallback = Callable[[float, str], None]


class CadtError(RuntimeError):
    """A request failed for good (after retries, or with a non-retryable status). `status`:
    the node's HTTP status when it refused the request (None for transport failures)."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CadtAuthError(CadtError):
    """The node rejected our API key (403)."""


class NotCadtError(CadtError):
    """The URL answers, but not as a CADT node does (wrong URL, proxy page, other service)."""


class CadtUnreachableError(CadtError):
    """No connection to the node could be made."""


@dataclass
class Counters:
    requests: int = 0
    bytes: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limited: int = 0  # 429 answers (each also counts as a retry)
    paced_seconds: float = 0.0  # wall time requests were held back for the node's window
    by_path: dict[str, int] = field(default_factory=dict)

    def count(self, path: str, nbytes: int) -> None:
        self.requests += 1
        self.bytes += nbytes
        self.by_path[path] = self.by_path.get(path, 0) + 1


@dataclass
class Response:
    status: int
    body: bytes
    data: Any  # parsed JSON (None for 304)
    etag: str | None
    headers: httpx.Headers

    @property
    def not_modified(self) -> bool:
        return self.status == 304


def split_base_url(url: str) -> str:
    """Normalise a node URL to its root, keeping an `/api`-style proxy prefix.

    Accepts `http://host:31310`, `.../v1`, `https://observer.../api`, `.../api/v1` (the public
    observer form) and returns the prefix under which `/v1/...` and `/health` live.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"not an http(s) URL: {url!r}")
    path = parts.path.rstrip("/")
    for suffix in ("/v1", "/v2"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


_POLICY_W = re.compile(r";\s*w=(\d+)")


class RateWindow:
    """The node's rate-limit window as its `RateLimit-*` headers (draft-6) describe it.

    Budget = what the node says is left, minus requests in flight (a request in flight may
    already be counted in that number: erring low only costs a wait at the window's end).
    `RateLimit-Reset` is rounded up to whole seconds, so the smallest `now + reset` seen in a
    window is a safe, tight estimate of its end. Once that time passes, one probe request goes
    out alone and its answer opens the next window. Nodes without the headers are never held.
    """

    TOLERANCE = 1.5  # two estimates this close describe the same window (1 s of rounding)

    def __init__(self, counters: Counters, on_wait: WaitCallback | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 margin: float = WINDOW_MARGIN) -> None:
        self.counters = counters
        self.on_wait = on_wait
        self.clock = clock
        self.margin = margin
        self.limit: int | None = None
        self.window: int | None = None
        self.remaining: int | None = None  # None: no limit known, never wait
        self.reset_at: float | None = None
        self.in_flight = 0
        self._cond = asyncio.Condition()
        self._waiting = 0
        self._blocked_since = 0.0
        self._announced: float | None = None

    # -- before and after each request ---------------------------------------------------------
    async def acquire(self) -> None:
        """Wait until the window has room for one more request, then count it in flight."""
        async with self._cond:
            if not self._has_budget():
                await self._wait_for_budget()
            self.in_flight += 1

    async def release(self, headers: httpx.Headers | None) -> None:
        """The request is answered (headers None: no answer); learn from its headers."""
        async with self._cond:
            self.in_flight -= 1
            if headers is not None:
                self._observe(headers)
            self._cond.notify_all()

    async def exhausted(self, wait: float, reason: str) -> None:
        """A 429: nothing is left until `wait` seconds from now."""
        async with self._cond:
            until = self.clock() + wait
            self.remaining = 0
            self.reset_at = max(self.reset_at or until, until)
            self._announce(reason)
            self._cond.notify_all()

    # -- the budget ----------------------------------------------------------------------------
    def _has_budget(self) -> bool:
        if self.remaining is None:
            return True
        if self.reset_at is not None and self.clock() >= self.reset_at + self.margin:
            self.remaining, self.reset_at = 1, None  # the window is over: send a probe alone
        return self.remaining - self.in_flight > 0

    async def _wait_for_budget(self) -> None:
        self._waiting += 1
        if self._waiting == 1:
            self._blocked_since = self.clock()
        try:
            while not self._has_budget():
                if self.reset_at is None:  # an answer in flight will tell
                    await self._cond.wait()
                    continue
                self._announce("the node's rate limit "
                               f"({self.limit or '?'} requests per {self.window or '?'} s) "
                               "is used up")
                delay = self.reset_at + self.margin - self.clock()
                with contextlib.suppress(TimeoutError):  # woken early by an answer
                    await asyncio.wait_for(self._cond.wait(), max(delay, 0.0))
        finally:
            self._waiting -= 1
            if self._waiting == 0:
                self.counters.paced_seconds += self.clock() - self._blocked_since

    def _announce(self, reason: str) -> None:
        """Tell on_wait once per window end we wait for."""
        if self.reset_at is None or self._announced == self.reset_at:
            return
        self._announced = self.reset_at
        wait = max(0.0, self.reset_at + self.margin - self.clock())
        log.info("waiting %.0f s for the node's rate-limit window: %s", wait, reason)
        if self.on_wait is not None:
            self.on_wait(wait, reason)

    def _observe(self, headers: httpx.Headers) -> None:
        limit = _int(headers.get("ratelimit-limit"))
        remaining = _int(headers.get("ratelimit-remaining"))
        reset = _int(headers.get("ratelimit-reset"))
        if limit is None or remaining is None:
            if self.reset_at is None or self.clock() >= self.reset_at:
                self.remaining = self.reset_at = None  # no (more) limit: never hold requests
            return
        self.limit = limit
        m = _POLICY_W.search(headers.get("ratelimit-policy", ""))
        self.window = int(m.group(1)) if m else self.window
        if not reset:  # omitted when 0: the window ends now, the next request opens one
            return
        end = self.clock() + reset
        if self.reset_at is None or end > self.reset_at + self.TOLERANCE:
            self.remaining, self.reset_at = remaining, end  # a new window
        elif end >= self.reset_at - self.TOLERANCE:  # the same window, answers out of order
            self.remaining = min(remaining, self.remaining if self.remaining is not None
                                 else remaining)
            self.reset_at = min(self.reset_at, end)
        # else: a late answer about an earlier window


class CadtClient:
    """One client per sync; use as `async with CadtClient(...) as client`.

    `on_wait(seconds, reason)` is called (in the event loop: keep it quick) each time requests
    start waiting for the node's rate-limit window; `counters.paced_seconds` adds those waits up.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        concurrency: int = 4,
        timeout: float = 60.0,
        max_retries: int = 8,
        backoff_base: float = 0.2,
        backoff_max: float = 20.0,
        rng: random.Random | None = None,
        on_wait: WaitCallback | None = None,
    ) -> None:
        self.root = split_base_url(base_url)
        self._api_key = api_key or None
        self.concurrency = max(1, int(concurrency))
        self.max_retries = max_retries
        self.backoff_base = backoff_base
        self.backoff_max = backoff_max
        self._rng = rng or random.Random()
        self._sem = asyncio.Semaphore(self.concurrency)
        self._timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        self.counters = Counters()
        self.window = RateWindow(self.counters, on_wait)
        self._http: httpx.AsyncClient | None = None

    def __repr__(self) -> str:  # never show the key
        return f"CadtClient({self.root!r}, api_key={'set' if self._api_key else 'none'})"

    async def __aenter__(self) -> CadtClient:
        headers = {"accept": "application/json", "user-agent": "cadt-mirror/0.1"}
        if self._api_key:
            headers["x-api-key"] = self._api_key
        self._http = httpx.AsyncClient(
            base_url=self.root,
            headers=headers,
            timeout=self._timeout,
            limits=httpx.Limits(max_connections=self.concurrency + 2,
                                max_keepalive_connections=self.concurrency + 2),
            follow_redirects=True,
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._http is not None:
            await self._http.aclose()

    def _redact(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text

    @property
    def host_port(self) -> str:
        parts = urlsplit(self.root)
        port = parts.port or (443 if parts.scheme == "https" else 80)
        host = parts.hostname or ""
        return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"

    async def get(
        self,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        etag: str | None = None,
        raw: bool = False,
        missing_ok: bool = False,
    ) -> Response:
        """GET a JSON route; retries transient failures; returns parsed JSON and raw body
        (with `raw`, the body only: the caller parses it and checks it). `missing_ok`: a
        record route's own 404 (`{"message": "<X> not found", "success": false}`) is
        returned (status 404, data None) instead of raised."""
        assert self._http is not None, "use `async with CadtClient(...)`"
        headers = {"if-none-match": etag} if etag else None
        attempt = limited = 0
        while True:
            delay: float | None = None
            try:
                resp, body = await self._send(path, params, headers)
                if resp.status_code == 429:
                    limited += 1
                    await self._rate_limited(path, resp, body, limited)
                    continue
                limited = 0
                if missing_ok and resp.status_code == 404 and _is_not_found(body):
                    return Response(404, body, None, None, resp.headers)
                done = self._accept(path, resp, body, raw, etag)
                if isinstance(done, Response):
                    return done
                problem = done
                if resp.status_code in RETRY_STATUS:
                    delay = _retry_after(resp.headers.get("retry-after"))
            except httpx.TransportError as e:  # connect/read errors, cut bodies, timeouts
                problem = self._transport_problem(e)
            attempt += 1
            if attempt > self.max_retries:
                raise self._give_up(path, attempt, problem)
            self.counters.retries += 1
            wait = self._backoff(attempt, delay)
            log.warning("%s: %s; retry %d/%d in %.2fs", path, self._redact(problem), attempt,
                        self.max_retries, wait)
            await asyncio.sleep(wait)

    async def _send(self, path: str, params: Any, headers: dict[str, str] | None
                    ) -> tuple[httpx.Response, bytes]:
        """One request, paced by the node's window; the whole body read."""
        assert self._http is not None
        async with self._sem:
            await self.window.acquire()
            answered: httpx.Headers | None = None
            try:
                resp = await self._http.get(path, params=params, headers=headers)
                answered = resp.headers
                body = resp.content  # reads the whole body; a cut connection raises here
            finally:
                await self.window.release(answered)
        self.counters.count(path, len(body))
        crashpoints.hit("response")
        return resp, body

    def _accept(self, path: str, resp: httpx.Response, body: bytes, raw: bool,
                etag: str | None) -> Response | str:
        """The Response to return, or the problem of a retryable answer; raises the others."""
        status = resp.status_code
        if status == 304:
            self.counters.not_modified += 1
            return Response(304, b"", None, resp.headers.get("etag") or etag, resp.headers)
        if status in RETRY_STATUS:
            return f"HTTP {status}"
        if status >= 400:
            raise self._refusal(path, resp, body)
        if not _is_json(resp):
            raise self._not_cadt(path, resp, body)
        if raw:
            return Response(status, body, None, resp.headers.get("etag"), resp.headers)
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return f"invalid JSON body ({len(body)} bytes): {e}"  # truncated: retry
        if path.endswith(ORGS_PATH) and not _is_org_map(data):
            raise self._not_cadt(path, resp, body, "JSON that is not a map of organizations")
        return Response(status, body, data, resp.headers.get("etag"), resp.headers)

    async def _rate_limited(self, path: str, resp: httpx.Response, body: bytes, n: int) -> None:
        """A 429: wait for the node's window (Retry-After, the body's retryAfter), retry."""
        self.counters.rate_limited += 1
        self.counters.retries += 1
        if n > MAX_RATE_LIMITED:
            raise CadtError(f"{path}: the CADT node at {self.host_port} still answers 429 "
                            f"Too Many Requests after {n - 1} waits for its rate-limit window")
        waits = [w for w in (_retry_after(resp.headers.get("retry-after")),
                             _body_retry_after(body)) if w is not None]
        wait = max(waits, default=0.0)
        log.warning("%s: HTTP 429 (rate limited); retry in %.1fs", path, wait)
        if wait > 0:  # every request waits: the node's window is shared
            await self.window.exhausted(wait, "the node answered 429 Too Many Requests")
        else:  # no (or a zero) wait given: a short jittered pause of our own
            await asyncio.sleep(self._backoff(n, None))

    def _refusal(self, path: str, resp: httpx.Response, body: bytes) -> CadtError:
        """The error for a 4xx that is not worth retrying."""
        status = resp.status_code
        if status == 403 and _json_message(body) == "CADT API key not found":
            return CadtAuthError(
                f"{path}: the CADT node rejected the API key (403 {_message(body)}); "
                "set CADT_API_KEY to the node's key")
        if not _looks_like_cadt(resp, body):
            return self._not_cadt(path, resp, body)
        if status == 404:
            return CadtError(f"{path}: the CADT node at {self.root} has no such route "
                             f"(HTTP 404: {_first_line(body)})", 404)
        return CadtError(f"{path}: HTTP {status}: {_message(body)}", status)

    def _not_cadt(self, path: str, resp: httpx.Response, body: bytes,
                  what: str | None = None) -> NotCadtError:
        ctype = resp.headers.get("content-type", "no content type").split(";")[0]
        what = what or f"HTTP {resp.status_code}, {ctype}"
        line = _first_line(body)
        return NotCadtError(self._redact(
            f"GET {self.root}{path}: this does not look like a CADT node ({what}"
            f"{': ' + line if line else ''}); check the node URL (CADT_API_URL)"))

    def _transport_problem(self, e: httpx.TransportError) -> str:
        if isinstance(e, httpx.ConnectError | httpx.ConnectTimeout):
            return f"cannot reach the CADT node at {self.host_port}: {_connect_reason(e)}"
        return f"{type(e).__name__}: {e}"

    def _give_up(self, path: str, attempt: int, problem: str) -> CadtError:
        if problem.startswith("cannot reach"):
            return CadtUnreachableError(self._redact(
                f"{path}: {problem} (gave up after {attempt} attempts)"))
        return CadtError(self._redact(
            f"{path}: giving up after {attempt} attempts; last error: {problem}"))

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        cap = min(self.backoff_max, self.backoff_base * 2 ** (attempt - 1))
        jittered = self._rng.uniform(0, cap)
        if retry_after is not None:
            return min(max(retry_after, jittered), max(self.backoff_max, retry_after))
        return jittered


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _body_retry_after(body: bytes) -> float | None:
    """CADT's 429 body: `{"error": "RATE_LIMIT_EXCEEDED", "retryAfter": <s>, ...}`."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = data.get("retryAfter") if isinstance(data, dict) else None
    return max(0.0, float(value)) if isinstance(value, int | float) else None


def _connect_reason(e: BaseException) -> str:
    """Why a connection failed, from the OS error under httpx's (often generic) one."""
    if isinstance(e, httpx.ConnectTimeout):
        return "connection timed out"
    seen: set[int] = set()
    cause: BaseException | None = e
    while cause is not None and id(cause) not in seen:
        seen.add(id(cause))
        if isinstance(cause, socket.gaierror):
            return "host not found"
        if isinstance(cause, ConnectionRefusedError):
            return "connection refused"
        if isinstance(cause, TimeoutError):
            return "connection timed out"
        if isinstance(cause, OSError) and cause.errno:
            return os.strerror(cause.errno).lower()
        cause = cause.__cause__ or cause.__context__
    return str(e) or type(e).__name__


def _is_json(resp: httpx.Response) -> bool:
    return "json" in resp.headers.get("content-type", "").lower()


def _is_org_map(data: Any) -> bool:
    """`{orgUid: {...}}` (or older docs' `{"organizations": {...}}`)."""
    if isinstance(data, dict) and isinstance(data.get("organizations"), dict):
        data = data["organizations"]
    return isinstance(data, dict) and all(isinstance(v, dict) for v in data.values())


def _looks_like_cadt(resp: httpx.Response, body: bytes) -> bool:
    """CADT sets `x-api-version` on every answer past its early middleware, and its own
    early refusals (rate limit, Chia checks, API key) are JSON objects with a `message`."""
    return "x-api-version" in resp.headers or _json_message(body) is not None


_RECORD_NOT_FOUND = re.compile(r"[A-Z][A-Za-z0-9 -]{0,60} not found")


def _is_not_found(body: bytes) -> bool:
    """A CADT controller's "record not found" body, `{"message": "<Label> not found",
    "success": false}` (not a missing route: Express's own 404 is an HTML page, and a
    catch-all's "Route ... not found" names a path)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    msg = data.get("message") if isinstance(data, dict) else None
    return (isinstance(msg, str) and data.get("success") is False
            and _RECORD_NOT_FOUND.fullmatch(msg) is not None
            and not msg.lower().startswith(("route", "cannot", "path", "endpoint")))


def _json_message(body: bytes) -> str | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    msg = data.get("message") if isinstance(data, dict) else None
    return msg if isinstance(msg, str) else None


_TAG = re.compile(rb"<[^>]*>")
_HTML_TEXT = re.compile(rb"<(pre|h1|title)[^>]*>(.*?)</\1>", re.I | re.S)


def _first_line(body: bytes, width: int = 160) -> str:
    """The first meaningful line of a body: an HTML page's message (Express's `<pre>`, else
    `<h1>`, else `<title>`), else the first non-blank line; never more than `width`."""
    text = body
    for tag in (b"pre", b"h1", b"title"):
        m = next((m for m in _HTML_TEXT.finditer(body) if m.group(1).lower() == tag), None)
        if m:
            text = m.group(2)
            break
    text = _TAG.sub(b" ", text)
    line = next((x.strip() for x in text.decode("utf-8", "replace").splitlines() if x.strip()),
                "")
    line = " ".join(line.split())
    return line if len(line) <= width else line[: width - 1] + "…"


def _message(body: bytes) -> str:
    """The server's own error text, short."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _first_line(body)
    if isinstance(data, dict):
        parts = [str(data.get("message", ""))]
        if data.get("errors"):
            parts.append("; ".join(map(str, data["errors"])))
        if data.get("error"):
            parts.append(str(data["error"]))
        return ": ".join(p for p in parts if p) or str(data)[:200]
    return str(data)[:200]
