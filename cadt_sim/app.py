"""The ASGI application: CADT middleware (API key, headers, ETag/304), fault injection, request
statistics, the v1 and v2 routes (also under /api) and the /_sim admin API."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import Counter
from urllib.parse import parse_qs

from . import routes_v1, routes_v2
from .activity import Activity
from .faults import Faults, Rule, malform
from .http import Response, cadt_headers, cors_headers, json_response, not_found
from .ledger import Ledger
from .ratelimit import EXEMPT, RateLimiter, RatePolicy, too_many_requests
from .rejections import RejectionLog
from .serialize import etag

log = logging.getLogger("cadt_sim")


class CutConnection(Exception):
    """Raised after a partial body: uvicorn then drops the connection (the `cut` fault)."""


class State:
    """Everything the server and the admin API share."""

    def __init__(self, ledger: Ledger, activity: Activity, api_key: str | None = None,
                 rate_limit: str | None = None) -> None:
        self.ledger = ledger
        self.activity = activity
        self.api_key = api_key
        self.faults = Faults()
        self.limiter: RateLimiter | None = None
        self.set_rate_limit(rate_limit)
        self.rejections = RejectionLog()
        self.stats: Counter[str] = Counter()
        self.stats_lock = threading.Lock()
        self.routes = dict(routes_v1.ROUTES)
        if ledger.v2 is not None:  # a v2-capable (newer) build (Simulator(v2=...))
            self.routes.update(routes_v1.NEWER_ROUTES)
            self.routes.update(routes_v2.ROUTES)
        self._churn_stop: threading.Event | None = None
        self._churn_thread: threading.Thread | None = None

    # ---- churn ------------------------------------------------------------------------------
    def start_churn(self, interval_ms: int = 50, kinds: list[str] | None = None,
                    seed: int = 0) -> None:
        import random

        self.stop_churn()
        stop = threading.Event()
        ks = self.activity.expand_kinds(kinds)  # "v1" (default), "v2", "all" or kind names
        rng = random.Random(seed)

        def loop() -> None:
            while not stop.wait(interval_ms / 1000):
                kind = rng.choice(ks)
                orgs = self.activity.orgs_for(kind)
                if orgs:
                    self.activity.run(kind, rng.randint(1, 5), rng.choice(orgs))

        self._churn_stop, self._churn_thread = stop, threading.Thread(
            target=loop, name="cadt-sim-churn", daemon=True)
        self._churn_thread.start()

    def stop_churn(self) -> None:
        if self._churn_stop is not None:
            self._churn_stop.set()
            assert self._churn_thread is not None
            self._churn_thread.join()
            self._churn_stop = self._churn_thread = None

    # ---- rate limit -------------------------------------------------------------------------
    def set_rate_limit(self, spec: str | None) -> None:
        """Install a fresh limiter (``"1000/15m"``, ``"50/2s"``), or none with None/""."""
        self.limiter = RateLimiter(RatePolicy.parse(spec)) if spec else None

    def rate_limit_dict(self) -> dict:
        lim = self.limiter
        if lim is None:
            return {"rate_limit": None}
        return {"rate_limit": str(lim.policy), "limit": lim.policy.limit,
                "window_s": lim.policy.window_ms / 1000}

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
        await _serve_cadt(state, scope, send)

    return app


class _Request:
    """What the middleware chain needs to know about one CADT request."""

    def __init__(self, scope: dict) -> None:
        self.path: str = scope["path"]
        self.method: str = scope["method"]
        self.route = self.path[4:] if self.path.startswith("/api/") else self.path
        self.qs: str = scope.get("query_string", b"").decode("latin-1")
        self.headers = dict(scope["headers"])
        client = scope.get("client")
        self.ip = client[0] if client else "unknown"  # trust proxy 0: the socket's address


#: Node's http parser limit (--max-http-header-size, default 16 KiB)
MAX_HEADER_SIZE = 16384


def header_size(scope: dict) -> int:
    """What Node's parser counts against MAX_HEADER_SIZE (node_http_parser.cc TrackHeader): the
    bytes of the request target and of every header name and value (not the method, the
    version, the colons or the line ends). Measured on node 20: with ``Host: x`` a target of
    16378 bytes passes and 16379 gets the 431."""
    qs = scope.get("query_string", b"")
    target = len(scope.get("raw_path") or scope["path"].encode()) + (len(qs) + 1 if qs else 0)
    return target + sum(len(k) + len(v) for k, v in scope["headers"])


def header_overflow() -> Response:
    """Node's answer (http server socketOnError, HPE_HEADER_OVERFLOW): ``HTTP/1.1 431 Request
    Header Fields Too Large`` and ``Connection: close``, no body, none of Express's headers;
    then the socket is closed. (uvicorn adds its Date and a Content-Length of 0.)"""
    return Response(431, b"", None, [(b"Connection", b"close")], etag=False)


async def _serve_cadt(state: State, scope: dict, send) -> None:
    """The real middleware order: cors, rate limit, (Cache-control), API key, CADT headers,
    route; faults stand in for what a proxy or a sick node would answer. Before all of it,
    Node's parser refuses oversized request heads (not counted, not rate-limited)."""
    req = _Request(scope)
    if header_size(scope) >= MAX_HEADER_SIZE:
        await _reply(state, send, req, header_overflow())
        return
    with state.stats_lock:
        state.stats[req.route] += 1
    headers = cors_headers()
    limiter = state.limiter
    if limiter is not None and req.route not in EXEMPT:
        verdict = limiter.hit(req.ip)
        headers += verdict.headers
        if verdict.limited:
            resp = too_many_requests(verdict.reset_s)
            resp.headers = headers
            await _reply(state, send, req, resp)
            return
    headers.append((b"Cache-control", b"no-store"))
    if state.api_key is not None and \
            req.headers.get(b"x-api-key", b"").decode("latin-1") != state.api_key:
        resp = json_response({"message": "CADT API key not found"}, 403)
        resp.headers = headers
        await _reply(state, send, req, resp)
        return
    handler = state.routes.get((req.method if req.method != "HEAD" else "GET", req.route))
    if handler is None and state.ledger.v2 is not None:
        handler = routes_v2.resolve(req.method, req.route)  # GET /v2/<resource>/<id>
    latency, rule, rng = state.faults.draw(req.route) if handler else (0, None, None)
    if latency:
        await asyncio.sleep(latency / 1000)
    led = state.ledger
    query = parse_qs(req.qs, keep_blank_values=True)
    injected = rule is not None and rule.kind in ("5xx", "429")
    with led.lock:
        orgs = routes_v2.header_orgs(led, req.route)  # the v2 org map on /v2 routes
        synced = all(o.synced for o in orgs)
        remaining = sum(o.sync_remaining for o in orgs)
        if handler is None:
            resp = not_found(req.method, req.path)
        elif injected:
            resp = _fault_response(rule)
        else:
            try:
                resp = handler(led, query)
            except Exception as e:  # a simulator bug: never dressed up as a node's answer
                resp = simulator_error(e)
    resp.headers = headers + cadt_headers(synced, remaining) + resp.headers
    if rule is not None and not injected and rng is not None and resp.status == 200:
        _corrupt(rule, resp, rng)
    if rule is not None and rule.kind == "cut" and rng:
        state.rejections.record(req.method, req.path, req.route, req.qs, resp, fault=False)
        await _cut(send, resp, rng)
    await _reply(state, send, req, resp, fault=injected)


def simulator_error(e: Exception) -> Response:
    """An exception in a route handler is a bug of the simulator, not something a CADT node
    would answer: 500, marked as the simulator's (body and ``x-cadt-sim-error`` header), logged
    with its traceback."""
    log.error("cadt-sim route handler failed", exc_info=e)
    resp = json_response({"message": "cadt-sim internal error (a simulator bug, not a CADT "
                                     "node answer)", "error": f"{type(e).__name__}: {e}",
                          "simulator": True, "success": False}, 500)
    resp.headers = [(b"x-cadt-sim-error", b"1")]
    return resp


def _corrupt(rule: Rule, resp: Response, rng) -> None:
    """The data faults: change the served copy of a 200 body."""
    if rule.kind == "malformed":
        resp.body = malform(resp.body, rng)
    elif rule.kind == "truncate":
        resp.body = resp.body[: max(1, int(len(resp.body) * rng.uniform(0.2, 0.9)))]


async def _cut(send, resp: Response, rng) -> None:
    """Headers with the full Content-Length, part of the body, then a dropped connection."""
    body = resp.body
    hdrs = [*resp.headers, (b"Content-Type", resp.content_type or b"text/plain"),
            (b"Content-Length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": resp.status, "headers": hdrs})
    await send({"type": "http.response.body", "more_body": True,
                "body": body[: max(0, int(len(body) * rng.uniform(0.1, 0.8)))]})
    raise CutConnection("simulated connection cut")


async def _reply(state: State, send, req: _Request, resp: Response, fault: bool = False
                 ) -> None:
    state.rejections.record(req.method, req.path, req.route, req.qs, resp, fault)
    await _finish(send, resp, req.headers, req.method)


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
