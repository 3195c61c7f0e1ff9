"""Async HTTP client for a CADT node: bounded concurrency, retries, ETags, counters.

The API key is sent as `x-api-key` and kept out of every repr, log line and error message.
Transient failures (connection errors, cut or truncated bodies, 5xx, 429) are retried with
exponential backoff and full jitter, honouring `Retry-After`; anything else fails fast with the
server's own message.
"""

from __future__ import annotations

import asyncio
import logging
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import orjson

from pipelines import crashpoints

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://observer.climateactiondata.org/api/v1"
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


class CadtError(RuntimeError):
    """A request failed for good (after retries, or with a non-retryable status)."""


class CadtAuthError(CadtError):
    """The node rejected our API key (403)."""


@dataclass
class Counters:
    requests: int = 0
    bytes: int = 0
    retries: int = 0
    not_modified: int = 0
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


class CadtClient:
    """One client per sync; use as `async with CadtClient(...) as client`."""

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

    async def get(
        self,
        path: str,
        params: dict[str, Any] | list[tuple[str, Any]] | None = None,
        *,
        etag: str | None = None,
        raw: bool = False,
    ) -> Response:
        """GET a JSON route; retries transient failures; returns parsed JSON and raw body
        (with `raw`, the body only: the caller parses it and checks it)."""
        assert self._http is not None, "use `async with CadtClient(...)`"
        headers = {"if-none-match": etag} if etag else None
        attempt = 0
        while True:
            attempt += 1
            delay: float | None = None
            try:
                async with self._sem:
                    resp = await self._http.get(path, params=params, headers=headers)
                    body = resp.content  # reads the whole body; a cut connection raises here
                self.counters.count(path, len(body))
                crashpoints.hit("response")
                if resp.status_code == 304:
                    self.counters.not_modified += 1
                    return Response(304, b"", None, resp.headers.get("etag") or etag, resp.headers)
                if resp.status_code in RETRY_STATUS:
                    delay = _retry_after(resp.headers.get("retry-after"))
                    problem = f"HTTP {resp.status_code}"
                elif resp.status_code == 403:
                    raise CadtAuthError(
                        f"{path}: the CADT node rejected the API key (403 {_message(body)}); "
                        "set CADT_API_KEY to the node's key"
                    )
                elif resp.status_code >= 400:
                    raise CadtError(f"{path}: HTTP {resp.status_code}: {_message(body)}")
                elif raw:
                    return Response(resp.status_code, body, None, resp.headers.get("etag"),
                                    resp.headers)
                else:
                    try:
                        data = orjson.loads(body)
                    except orjson.JSONDecodeError as e:
                        problem = f"invalid JSON body ({len(body)} bytes): {e}"
                    else:
                        return Response(resp.status_code, body, data, resp.headers.get("etag"),
                                         resp.headers)
            except httpx.TransportError as e:  # connect/read errors, cut bodies, timeouts
                problem = f"{type(e).__name__}: {e}"
            if attempt > self.max_retries:
                raise CadtError(
                    self._redact(f"{path}: giving up after {attempt} attempts; last error: {problem}")
                )
            self.counters.retries += 1
            wait = self._backoff(attempt, delay)
            log.warning("%s: %s; retry %d/%d in %.2fs", path, self._redact(problem), attempt,
                        self.max_retries, wait)
            await asyncio.sleep(wait)

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


def _message(body: bytes) -> str:
    """The server's own error text, short."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        parts = [str(data.get("message", ""))]
        if data.get("errors"):
            parts.append("; ".join(map(str, data["errors"])))
        if data.get("error"):
            parts.append(str(data["error"]))
        return ": ".join(p for p in parts if p) or str(data)[:200]
    return str(data)[:200]
