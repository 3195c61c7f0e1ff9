"""One sync of our mirror, in its own process so the parent can take its peak RSS.

    python -m benchmarks.sync_child --api URL --database PATH [--concurrency 4] [--stages]

Same work as `cadt-mirror sync --quiet` (it calls the same `run_sync`); prints one JSON line
with its wall time and its CPU time (`time.process_time()`: every thread of the process).
`--stages` adds the CPU time per stage (`benchmarks.stages`), at the cost of a little overhead.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--stages", action="store_true", help="time the sync's stages (CPU)")
    a = ap.parse_args(argv)
    from pipelines.sync import SyncSettings, run_sync

    from .stages import StageTimer, timed_run

    # The read-only serving copy is refreshed by a file copy after each sync that changed
    # something: a feature outside the sync itself, measured separately (docs/benchmarks.md).
    settings = SyncSettings(api_url=a.api, database=Path(a.database),
                            concurrency=a.concurrency, publish=False)
    out: dict[str, Any] = {}
    t0, c0 = time.perf_counter(), time.process_time()
    if a.stages:
        rep, out["stages"] = timed_run(lambda: run_sync(settings), StageTimer())
    else:
        rep = run_sync(settings)
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu_seconds": cpu, "requests": rep.requests,
                      "bytes": rep.bytes, "status": rep.status, "error": rep.error,
                      "modes": sorted({o.mode for o in rep.orgs})} | out), flush=True)


if __name__ == "__main__":
    main()
