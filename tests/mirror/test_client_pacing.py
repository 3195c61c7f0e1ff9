"""The client paces itself by the node's RateLimit-* headers (no 429 in steady state), waits out
the 429s it gets anyway without using its retry budget, and says clearly when the URL is not a
CADT node or cannot be reached. Real HTTP on loopback: the simulator, or a tiny local server."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from pipelines.source.client import (
    CadtClient,
    CadtError,
    CadtUnreachableError,
    Counters,
    NotCadtError,
)
from pipelines.sync import run_sync

UNITS = [("page", 1), ("limit", 5), ("order", "warehouseUnitId:ASC")]


def _run(url: str, calls: int, **kw) -> tuple[list[int], Counters, list[tuple[float, str]]]:
    """`calls` concurrent GETs of one units page; (statuses, counters, on_wait calls)."""
    waits: list[tuple[float, str]] = []

    async def go():
        async with CadtClient(url, backoff_base=0.01,
                              on_wait=lambda s, why: waits.append((s, why)), **kw) as c:
            got = await asyncio.gather(*(c.get("/v1/units", UNITS) for _ in range(calls)))
            return [r.status for r in got], c.counters
    statuses, counters = asyncio.run(go())
    return statuses, counters, waits


def _429s(sim) -> list[dict]:
    return [r for r in sim.rejections() if r["status"] == 429]


def test_pacing_keeps_a_rate_limited_node_from_answering_429(sim):
    sim.set_rate_limit("8/2s")
    statuses, counters, waits = _run(sim.url, 20, concurrency=4)
    assert statuses == [200] * 20
    assert _429s(sim) == [] and counters.rate_limited == 0 and counters.retries == 0
    assert len(waits) >= 2  # 20 requests need 3 windows of 8
    assert all(s > 0 and "rate limit" in why for s, why in waits)
    assert counters.paced_seconds > 0


def test_no_rate_limit_headers_never_hold_a_request(sim):
    statuses, counters, waits = _run(sim.url, 20, concurrency=4)
    assert statuses == [200] * 20
    assert waits == [] and counters.paced_seconds == 0


def test_a_genuine_429_waits_for_the_window_without_using_the_retry_budget(sim):
    import httpx

    sim.set_rate_limit("3/2s")
    for _ in range(3):  # someone else behind the same IP used the whole window
        assert httpx.get(sim.url + "/v1/organizations").status_code == 200
    statuses, counters, waits = _run(sim.url, 1, max_retries=0)
    assert statuses == [200]
    assert counters.rate_limited == 1 == len(_429s(sim))
    assert waits and "429" in waits[0][1] and counters.paced_seconds > 0


def test_injected_429s_do_not_use_the_retry_budget(sim):
    sim.set_faults([{"route": "/v1/units", "kind": "429", "retry_after": 0, "rate": 0.5}],
                   seed=2)
    statuses, counters, _ = _run(sim.url, 10, max_retries=0)
    assert statuses == [200] * 10 and counters.rate_limited > 0
    assert counters.rate_limited == len([r for r in _429s(sim) if r["fault"]])


def test_a_node_that_only_answers_429_fails_clearly(sim):
    sim.set_faults([{"route": "/v1/units", "kind": "429", "retry_after": 0, "rate": 1.0}])
    with pytest.raises(CadtError, match=r"/v1/units: the CADT node at 127\.0\.0\.1:\d+ still "
                                        r"answers 429 Too Many Requests after 30 waits"):
        _run(sim.url, 1, backoff_max=0.02)  # no wait given: our own (short) backoff


def test_full_sync_through_a_small_rate_limit_gets_no_429(sim, settings):
    """A full sync of the scale-1 simulator makes ~18 requests: 8 per 2 s window is 3 windows."""
    sim.set_rate_limit("8/2s")
    report = run_sync(settings)
    assert report.status == "success", report.error
    assert _429s(sim) == [] and report.retries == 0
    assert report.requests > 8  # it really needed more than one window


# ---- a tiny HTTP server on loopback, answering what each test scripts ------------------------

Reply = tuple[int, str, bytes, dict[str, str]]


@pytest.fixture
def local() -> Iterator[tuple[str, list[Reply]]]:
    """(url, replies): each request pops the next scripted reply (the last one repeats)."""
    replies: list[Reply] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status, ctype, body, headers = replies.pop(0) if len(replies) > 1 else replies[0]
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", replies
    finally:
        server.shutdown()
        server.server_close()


def _get(url: str, path: str = "/v1/organizations", **kw) -> tuple[object, Counters]:
    async def go():
        async with CadtClient(url, **{"backoff_base": 0.01, "max_retries": 1, **kw}) as c:
            return (await c.get(path)).data, c.counters
    return asyncio.run(go())


HTML_404 = (b"<html>\r\n<head><title>404 Not Found</title></head>\r\n<body>\r\n"
            b"<center><h1>404 Not Found</h1></center>\r\n<hr><center>nginx</center>\r\n"
            b"</body>\r\n</html>\r\n")


def test_an_html_404_is_not_a_cadt_node(local):
    url, replies = local
    replies.append((404, "text/html", HTML_404, {}))
    with pytest.raises(NotCadtError) as e:
        _get(url)
    msg = str(e.value)
    assert msg == (f"GET {url}/v1/organizations: this does not look like a CADT node "
                   "(HTTP 404, text/html: 404 Not Found); check the node URL (CADT_API_URL)")


def test_a_200_that_is_not_json_is_not_a_cadt_node(local):
    url, replies = local
    replies.append((200, "text/html; charset=utf-8",
                    b"<!doctype html>\n<html><body>\nWelcome to our portal\n<p>more</p>\n"
                    b"</body></html>\n" * 50, {}))
    with pytest.raises(NotCadtError, match=r"this does not look like a CADT node \(HTTP 200, "
                                           r"text/html: Welcome to our portal\); check") as e:
        _get(url, "/v1/units")
    assert str(e.value).count("Welcome") == 1 and "\n" not in str(e.value)


def test_json_of_the_wrong_shape_on_organizations_is_not_a_cadt_node(local):
    url, replies = local
    replies.append((200, "application/json", json.dumps({"status": "ok", "uptime": 5}).encode(),
                    {}))
    with pytest.raises(NotCadtError, match=r"/v1/organizations: this does not look like a CADT "
                                           r"node \(JSON that is not a map of organizations: "):
        _get(url)


def test_a_cadt_404_names_the_missing_route(sim):
    with pytest.raises(CadtError, match=r"/v1/nope: the CADT node at http://127\.0\.0\.1:\d+ "
                                        r"has no such route \(HTTP 404: Cannot GET /v1/nope\)"):
        _get(sim.url, "/v1/nope")


def test_body_retry_after_is_honoured(local):
    url, replies = local
    body = json.dumps({"message": "Too many requests. Please slow down and try again later.",
                       "error": "RATE_LIMIT_EXCEEDED", "success": False, "retryAfter": 1})
    replies += [(429, "application/json", body.encode(), {}),
                (200, "application/json", b"{}", {})]
    data, counters = _get(url, max_retries=0)
    assert data == {} and counters.rate_limited == 1
    assert counters.paced_seconds >= 1  # it waited the window the body asked for


def test_a_closed_port_names_host_and_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed once the block ends: nobody listens there
    with pytest.raises(CadtUnreachableError,
                       match=rf"^/v1/organizations: cannot reach the CADT node at "
                             rf"127\.0\.0\.1:{port}: connection refused \(gave up after 2 "
                             r"attempts\)$"):
        _get(f"http://127.0.0.1:{port}/api/v1")
