"""A real headless Chromium, driven over the DevTools protocol: load a page, wait until it says
it is drawn, and collect what a person would notice (console errors, requests, the charts)."""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOT_INSTALLED = ("Chromium is not installed: `make test` installs it "
                 "(scripts/ensure_chromium.sh, Debian's `chromium` package)")
_CHARTS_JS = """Array.from(document.querySelectorAll("section.chart"), function (s) {
  var gd = s.querySelector(".js-plotly-plot");
  return {id: s.id, traces: gd && gd.data ? gd.data.length : 0,
          points: gd && gd.data ? gd.data.reduce(function (n, t) {
            return n + (t.x ? t.x.length : (t.cells ? t.cells.values[0].length : 0)); }, 0) : 0,
          drawn: !!s.querySelector("svg.main-svg")};
})"""


@dataclass
class PageResult:
    ready: Any  # what window.cadtReportReady resolved to
    charts: list[dict[str, Any]]
    errors: list[str] = field(default_factory=list)  # console errors, exceptions, log errors
    requests: list[str] = field(default_factory=list)  # every URL the page asked for
    title: str = ""


def inspect_page(page: Path, screenshot: Path, timeout: float = 60) -> PageResult:
    assert CHROMIUM, NOT_INSTALLED
    with tempfile.TemporaryDirectory() as profile:
        proc = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            port = _devtools_port(proc)
            return asyncio.run(asyncio.wait_for(_inspect(port, page, screenshot), timeout))
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _devtools_port(proc: subprocess.Popen) -> int:
    """Chromium prints the port it chose on stderr before anything else can be asked."""
    assert proc.stderr is not None
    for line in proc.stderr:
        found = re.search(r"DevTools listening on ws://[^:]+:(\d+)/", line)
        if found:
            return int(found.group(1))
    raise AssertionError(f"chromium exited ({proc.wait()}) without opening DevTools")


class _Session:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        await self.ws.send(json.dumps({"id": msg_id, "method": method, "params": params}))
        while True:
            msg = json.loads(await self.ws.recv())
            if msg.get("id") == msg_id:
                if "error" in msg:
                    raise AssertionError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    async def wait_for(self, method: str) -> dict[str, Any]:
        for e in self.events:
            if e.get("method") == method:
                return e
        while True:
            msg = json.loads(await self.ws.recv())
            self.events.append(msg)
            if msg.get("method") == method:
                return msg

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", expression=expression, awaitPromise=True,
                                 returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"{expression[:60]}: {result['exceptionDetails']}")
        return result["result"].get("value")


async def _inspect(port: int, page: Path, screenshot: Path) -> PageResult:
    async with httpx.AsyncClient() as http:
        targets = (await http.get(f"http://127.0.0.1:{port}/json/list")).json()
    url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
    async with websockets.connect(url, max_size=None) as ws:
        s = _Session(ws)
        for domain in ("Runtime", "Log", "Page", "Network"):
            await s.call(f"{domain}.enable")
        await s.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
                     deviceScaleFactor=1, mobile=False)
        await s.call("Page.navigate", url=page.resolve().as_uri())
        await s.wait_for("Page.loadEventFired")
        ready = await s.evaluate("window.cadtReportReady")
        charts = await s.evaluate(_CHARTS_JS)
        title = await s.evaluate("document.title")
        height = await s.evaluate("document.documentElement.scrollHeight")
        await s.call("Emulation.setDeviceMetricsOverride", width=1280, height=int(height),
                     deviceScaleFactor=1, mobile=False)
        shot = await s.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        screenshot.write_bytes(base64.b64decode(shot["data"]))
        await s.evaluate("1")  # collect the events that came meanwhile
    return PageResult(ready, charts, _errors(s.events), _requests(s.events), title)


def _errors(events: list[dict[str, Any]]) -> list[str]:
    out = []
    for e in events:
        p = e.get("params", {})
        if e.get("method") == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
            out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
        elif e.get("method") == "Runtime.exceptionThrown":
            out.append(str(p["exceptionDetails"]))
        elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
            out.append(p["entry"]["text"])
    return out


def _requests(events: list[dict[str, Any]]) -> list[str]:
    return [e["params"]["request"]["url"] for e in events
            if e.get("method") == "Network.requestWillBeSent"]
