"""Shared plumbing: the simulator in its own process, timing, peak RSS, machine facts."""

from __future__ import annotations

import contextlib
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
LISTEN_RE = re.compile(r"cadt-sim listening on (http://\S+)")


def log(msg: str) -> None:
    print(msg, flush=True)


def verdict(ok: bool | None, detail: str = "") -> str:
    """A report's verdict cell: pass, miss or not measured, with what it is based on."""
    if ok is None:
        return "not measured"
    return ("**pass**" if ok else "**miss**") + (f" ({detail})" if detail else "")


@dataclass
class SimProcess:
    url: str
    proc: subprocess.Popen
    scale: float
    seed: int
    build_s: float

    @property
    def api(self) -> str:
        return self.url + "/api/v1"

    def rss_mb(self) -> float:
        return psutil.Process(self.proc.pid).memory_info().rss / 2**20


@contextlib.contextmanager
def simulator(scale: float, seed: int = 1, timeout: float = 300.0,
              extra: tuple[str, ...] = ()) -> Iterator[SimProcess]:
    """`cadt-sim serve` in its own process (a free port); stopped (by pid) on exit.
    `extra`: more `serve` options (e.g. `--v2 on`)."""
    cmd = [str(VENV_BIN / "cadt-sim"), "serve", "--port", "0", "--seed", str(seed),
           "--scale", str(scale), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            cwd=ROOT)
    try:
        url = None
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            m = LISTEN_RE.search(line)
            if m:
                url = m.group(1)
                break
        if url is None:
            raise RuntimeError(f"cadt-sim did not start (scale {scale})")
        # keep draining its output so it never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in proc.stdout], daemon=True).start()
        yield SimProcess(url, proc, scale, seed, time.perf_counter() - t0)
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def tempdir(prefix: str = "cadt-bench-") -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=prefix) as d:
        yield Path(d)


def median(xs: list[float]) -> float:
    return statistics.median(xs) if xs else float("nan")


@dataclass
class ChildRun:
    seconds: float
    peak_rss_mb: float
    returncode: int
    stdout: str
    stderr: str


def run_child(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 3600.0,
              poll_s: float = 0.05) -> ChildRun:
    """Run a command, sampling the RSS of it and its descendants; returns the peak.

    Sampling (every 50 ms) can only under-estimate a short spike; the kernel's own high-water
    mark (`ru_maxrss` of the direct child) is taken too and the larger of both reported.
    """
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    full_env = {**os.environ, **(env or {})}
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=full_env, cwd=ROOT, text=True)
        peak = 0
        p = psutil.Process(proc.pid)
        while proc.poll() is None:
            try:
                total = p.memory_info().rss
                for c in p.children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        total += c.memory_info().rss
                peak = max(peak, total)
            except psutil.Error:
                pass
            if time.perf_counter() - t0 > timeout:
                proc.kill()
            time.sleep(poll_s)
        seconds = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    ru_peak = after * 1024 if after > before else 0  # KiB on Linux; only if this child set it
    return ChildRun(seconds, max(peak, ru_peak) / 2**20, proc.returncode, stdout, stderr)


def machine_facts() -> dict[str, str]:
    import duckdb

    cpu = platform.processor() or ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    facts = {
        "cpu": cpu,
        "logical cores": str(os.cpu_count()),
        "memory": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
    }
    for mod in ("httpx", "dlt", "uvicorn", "orjson"):
        try:
            facts[mod] = __import__(mod).__version__
        except Exception:  # not installed (dlt is the optional `bench` extra)
            facts[mod] = "not installed"
    with contextlib.suppress(Exception):
        facts["git commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
            check=True).stdout.strip()
    return facts
