"""The ASGI application: CADT middleware (API key, headers, ETag/304), fault injection, request
statistics, the v1 routes (also under /api) and the /_sim admin API."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from urllib.parse import parse_qs

from . import routes_v1
from .activity import CHURN_KINDS, Activity
from .faults import Faults, malform
from .http import Response, base_headers, cadt_headers, json_response, not_found
from .ledger import Ledger
from .serialize import etag


class CutConnection(Exception):
    """Raised after a partial body: uvicorn then drops the connection (the `cut` fault)."""


class State:
    """Everything the server and the admin API share."""

    def __init__(self, ledger: Ledger, activity: Activity, api_key: str | None = None) -> None:
        self.ledger = ledger
        self.activity = activity
        self.api_key = api_key
        self.faults = Faults()
        self.stats: Counter[str] = Counter()
        self.stats_lock = threading.Lock()
        self.routes = dict(routes_v1.ROUTES)
        self._churn_stop: threading.Event | None = None
        self._churn_thread: threading.Thread | None = None

    # ---- churn ------------------------------------------------------------------------------
    def start_churn(self, interval_ms: int = 50, kinds: list[str] | None = None,
                    seed: int = 0) -> None:
        import random

        self.stop_churn()
        stop = threading.Event()
        ks = list(kinds or CHURN_KINDS)
        rng = random.Random(seed)

        def loop() -> None:
            while not stop.wait(interval_ms / 1000):
                orgs = sorted(self.ledger.orgs)
                if orgs:
                    self.activity.run(rng.choice(ks), rng.randint(1, 5), rng.choice(orgs))

        self._churn_stop, self._churn_thread = stop, threading.Thread(
            target=loop, name="cadt-sim-churn", daemon=True)
        self._churn_thread.start()

    def stop_churn(self) -> None:
        if self._churn_stop is not None:
            self._churn_stop.set()
            assert self._churn_thread is not None
            self._churn_thread.join()
            self._churn_stop = self._churn_thread = None

    def stats_dict(self) -> dict:
        with self.stats_lock:
            return {"total": sum(self.stats.values()), "by_route": dict(self.stats)}

    def reset_stats(self) -> None:
        with self.stats_lock:
            self.stats.clear()


async def _send(send, resp: Response, head_only: bool = False) -> None:
    headers = list(resp.headers)
    if resp.content_type is not None:
        headers.append((b"Content-Type", resp.content_type))
    if resp.stream is None:
        headers.append((b"Content-Length", str(len(resp.body)).encode()))
    await send({"type": "http.response.start", "status": resp.status, "headers": headers})
    if resp.stream is not None:
        async for chunk in resp.stream:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
        await send({"type": "http.response.body", "body": b""})
    else:
        await send({"type": "http.response.body", "body": b"" if head_only else resp.body})


def make_app(state: State):
    """Build the ASGI callable bound to one simulator state."""
    from .admin import handle_admin

    async def app(scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif msg["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.startswith("/_sim/") or path == "/_sim":
            body = b""
            while True:
                msg = await receive()
                body += msg.get("body", b"")
                if not msg.get("more_body"):
                    break
            resp = await handle_admin(state, method, path, scope, body)
            await _send(send, resp)
            return
        route = path[4:] if path.startswith("/api/") else path
        with state.stats_lock:
            state.stats[route] += 1
        req_headers = dict(scope["headers"])
        headers = base_headers()
        if state.api_key is not None and \
                req_headers.get(b"x-api-key", b"").decode("latin-1") != state.api_key:
            resp = json_response({"message": "CADT API key not found"}, 403)
            resp.headers = headers
            await _finish(send, resp, req_headers, method)
            return
        handler = state.routes.get((method if method != "HEAD" else "GET", route))
        latency, rule, rng = state.faults.draw(route) if handler else (0, None, None)
        if latency:
            await asyncio.sleep(latency / 1000)
        led = state.ledger
        qs = scope.get("query_string", b"").decode("latin-1")
        query = parse_qs(qs, keep_blank_values=True)
        with led.lock:
            synced = all(o.synced for o in led.orgs.values())
            remaining = sum(o.sync_remaining for o in led.orgs.values())
            if handler is None:
                resp = not_found(method, path)
            elif rule is not None and rule.kind in ("5xx", "429"):
                resp = _fault_response(rule)
            else:
                try:
                    resp = handler(led, query)
                except Exception as e:  # the real server answers controller errors with 400
                    resp = json_response({"message": "Error", "error": str(e), "success": False},
                                         400)
        resp.headers = headers + cadt_headers(synced, remaining) + resp.headers
        if rule is not None and rule.kind == "malformed" and resp.status == 200 and rng:
            resp.body = malform(resp.body, rng)
        if rule is not None and rule.kind == "truncate" and resp.status == 200 and rng:
            resp.body = resp.body[: max(1, int(len(resp.body) * rng.uniform(0.2, 0.9)))]
        if rule is not None and rule.kind == "cut" and rng:
            body = resp.body
            hdrs = [*resp.headers, (b"Content-Type", resp.content_type or b"text/plain"),
                    (b"Content-Length", str(len(body)).encode())]
            await send({"type": "http.response.start", "status": resp.status, "headers": hdrs})
            await send({"type": "http.response.body", "more_body": True,
                        "body": body[: max(0, int(len(body) * rng.uniform(0.1, 0.8)))]})
            raise CutConnection("simulated connection cut")
        await _finish(send, resp, req_headers, method)

    return app


def _fault_response(rule) -> Response:
    if rule.kind == "429":
        r = json_response({"message": "Too Many Requests", "success": False}, 429)
        r.headers = [(b"Retry-After", str(rule.retry_after).encode())]
        return r
    return json_response({"message": "Internal Server Error", "success": False},
                         rule.status or 500)


async def _finish(send, resp: Response, req_headers: dict, method: str) -> None:
    if resp.etag and resp.stream is None:
        tag = etag(resp.body).encode()
        resp.headers.append((b"ETag", tag))
        inm = req_headers.get(b"if-none-match")
        if inm is not None and resp.status == 200 and tag in [x.strip() for x in inm.split(b",")]:
            hdrs = [h for h in resp.headers]
            await send({"type": "http.response.start", "status": 304, "headers": hdrs})
            await send({"type": "http.response.body", "body": b""})
            return
    await _send(send, resp, head_only=method == "HEAD")
