"""A log of every 4xx the simulator answers to a CADT request, so tests can assert that a client
provoked none (a guard against requests a real node would refuse)."""

from __future__ import annotations

import re
import threading
import time
from collections import deque
from http import HTTPStatus
from typing import Any

import orjson

from .http import Response

_PRE = re.compile(rb"<pre>(.*?)</pre>", re.S)


def _describe(resp: Response) -> dict[str, Any]:
    """message / errors / error of a CADT error body (or the text of Express's HTML 404; the
    status's reason phrase for an empty body, as Node's 431)."""
    if not resp.body:
        return {"message": HTTPStatus(resp.status).phrase, "errors": None, "error": None}
    try:
        doc = orjson.loads(resp.body)
    except orjson.JSONDecodeError:
        m = _PRE.search(resp.body)
        text = (m.group(1) if m else resp.body[:200]).decode("utf-8", "replace")
        return {"message": text, "errors": None, "error": None}
    if not isinstance(doc, dict):
        return {"message": None, "errors": None, "error": None}
    return {"message": doc.get("message"), "errors": doc.get("errors"), "error": doc.get("error")}


class RejectionLog:
    """Bounded (oldest dropped beyond `maxlen`), thread-safe, in arrival order."""

    def __init__(self, maxlen: int = 10_000) -> None:
        self._rows: deque[dict[str, Any]] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def record(self, method: str, path: str, route: str, query: str, resp: Response,
               fault: bool) -> None:
        """Keep `resp` if it is a 4xx; `fault`: it was an injected fault, not the node's answer."""
        if not 400 <= resp.status < 500:
            return
        row = {"at": time.time(), "method": method, "route": route, "path": path,
               "query": query, "status": resp.status, **_describe(resp), "fault": fault}
        with self._lock:
            self._rows.append(row)

    def rows(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(r) for r in self._rows]

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()

    def __len__(self) -> int:
        return len(self._rows)
