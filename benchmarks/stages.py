"""CPU time per stage of one sync, for the benchmark's sync child (`sync_child --stages`).

This is a measurement harness, not a test: `install` monkeypatches the stage functions at
runtime, in the child process only, with wrappers that add up the CPU time each call spends on
the thread that runs it (`time.thread_time()`), and leaves what they do unchanged:

- fetch = `CadtClient.get` (a coroutine: only its own steps are timed, not the time other tasks
  run while it awaits; request building, HTTP parsing and reading the body happen there, while
  the event loop's socket callbacks and scheduling count as bookkeeping on the event loop);
- parse = `parse_page` as `pipelines.sync.crawl` calls it (Arrow's reader, in `asyncio.to_thread`
  workers) plus the orjson fallback of `crawl.get_page` (on the event loop);
- land = `pipelines.warehouse.landing.stage_pages` (the lander's DuckDB thread);
- commit = the engine's `_Sync._commit` (the commit DuckDB thread);
- bookkeeping = the rest of the process CPU time (`time.process_time()` covers every thread):
  the engine, the crawl logic, the event loop, the other DuckDB statements. With DuckDB
  `threads` > 1 (machines with more than 3 cores), work DuckDB hands to its own pool threads
  also lands there, since thread CPU time only sees the calling thread.

Times are exclusive: a timed call inside another on the same thread counts once, for itself.
The wrappers cost a few microseconds per call and per coroutine step, so the breakdown is taken
from a sync of its own, never from the timed repetitions.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any

STAGES = ("fetch", "parse", "land", "commit")


def _thread_kind() -> str:
    """Where a stage ran: the event loop (main thread), a DuckDB worker, or another thread."""
    t = threading.current_thread()
    if t is threading.main_thread():
        return "event loop"
    return "duckdb" if t.name.startswith("duckdb") else "workers"


@dataclass
class StageTimer:
    """Exclusive CPU seconds and calls per (stage, thread kind)."""

    cpu: dict[tuple[str, str], float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _local: threading.local = field(default_factory=threading.local)

    # -- exclusive timing on the current thread ------------------------------------------------
    def _enter(self) -> float:
        stack = self._local.__dict__.setdefault("stack", [])
        stack.append(0.0)  # CPU of nested timed calls, subtracted from this one
        return time.thread_time()

    def _exit(self, stage: str, t0: float) -> None:
        spent = time.thread_time() - t0
        stack = self._local.stack
        nested = stack.pop()
        if stack:
            stack[-1] += spent
        key = (stage, _thread_kind())
        with self._lock:
            self.cpu[key] = self.cpu.get(key, 0.0) + spent - nested

    def _count(self, stage: str) -> None:
        with self._lock:
            self.calls[stage] = self.calls.get(stage, 0) + 1

    # -- wrappers ------------------------------------------------------------------------------
    def wrap_sync(self, stage: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            self._count(stage)
            t0 = self._enter()
            try:
                return fn(*args, **kwargs)
            finally:
                self._exit(stage, t0)
        return timed

    def wrap_async(self, stage: str, fn: Callable[..., Coroutine[Any, Any, Any]]
                   ) -> Callable[..., Coroutine[Any, Any, Any]]:
        @functools.wraps(fn)
        async def timed(*args: Any, **kwargs: Any) -> Any:
            self._count(stage)
            return await _TimedAwait(self, stage, fn(*args, **kwargs))
        return timed

    # -- results -------------------------------------------------------------------------------
    def result(self, process_cpu: float, loop_cpu: float) -> dict[str, Any]:
        """Seconds per stage, bookkeeping as the rest (and how much of it is the loop's)."""
        per = {s: sum(v for (st, _), v in self.cpu.items() if st == s) for s in STAGES}
        on_loop = sum(v for (_, kind), v in self.cpu.items() if kind == "event loop")
        rest = process_cpu - sum(per.values())
        return {"cpu_seconds": per | {"bookkeeping": rest},
                "bookkeeping_event_loop": loop_cpu - on_loop,
                "by_thread": {f"{s}/{k}": v for (s, k), v in sorted(self.cpu.items())},
                "calls": dict(self.calls), "process_cpu": process_cpu, "loop_cpu": loop_cpu}


class _TimedAwait:
    """Drives a coroutine, timing each of its steps on the thread that runs the step."""

    def __init__(self, timer: StageTimer, stage: str, coro: Coroutine[Any, Any, Any]) -> None:
        self.timer, self.stage, self.coro = timer, stage, coro

    def __await__(self) -> Generator[Any, Any, Any]:
        send: Any = None
        error: BaseException | None = None
        while True:
            t0 = self.timer._enter()
            try:
                future = self.coro.send(send) if error is None else self.coro.throw(error)
            except StopIteration as done:
                return done.value
            finally:
                self.timer._exit(self.stage, t0)
            try:
                send, error = (yield future), None
            except GeneratorExit:
                self.coro.close()
                raise
            except BaseException as e:  # cancellation too: the coroutine decides
                send, error = None, e


class _TimedOrjson:
    """`orjson` as `pipelines.sync.crawl` sees it, with `loads` timed as parsing."""

    def __init__(self, module: Any, loads: Callable[[Any], Any]) -> None:
        self._module, self.loads = module, loads

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


def install(timer: StageTimer) -> Callable[[], None]:
    """Wrap the stage functions in this process; returns the function that undoes it."""
    from pipelines.source import client
    from pipelines.sync import crawl, engine
    from pipelines.warehouse import landing

    patches: list[tuple[Any, str, Any]] = [
        (client.CadtClient, "get", timer.wrap_async("fetch", client.CadtClient.get)),
        (crawl, "parse_page", timer.wrap_sync("parse", crawl.parse_page)),
        (crawl, "orjson", _TimedOrjson(crawl.orjson, timer.wrap_sync("parse", crawl.orjson.loads))),
        (landing, "stage_pages", timer.wrap_sync("land", landing.stage_pages)),
        (engine._Sync, "_commit", timer.wrap_sync("commit", engine._Sync._commit)),
    ]
    saved = [(owner, name, owner.__dict__[name]) for owner, name, _ in patches]
    for owner, name, new in patches:
        setattr(owner, name, new)

    def undo() -> None:
        for owner, name, old in saved:
            setattr(owner, name, old)
    return undo


def timed_run(run: Callable[[], Any], timer: StageTimer) -> tuple[Any, dict[str, Any]]:
    """`run()` with the stages timed: its result and the breakdown."""
    undo = install(timer)
    try:
        c0, l0 = time.process_time(), time.thread_time()
        out = run()
        process_cpu, loop_cpu = time.process_time() - c0, time.thread_time() - l0
    finally:
        undo()
    return out, timer.result(process_cpu, loop_cpu)

