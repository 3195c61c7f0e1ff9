"""One sync of our mirror, in its own process so the parent can take its peak RSS.

    python -m benchmarks.sync_child --api URL --database PATH [--concurrency 4]

Same work as `cadt-mirror sync --quiet` (it calls the same `run_sync`); prints one JSON line.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--api", required=True)
    ap.add_argument("--database", required=True)
    ap.add_argument("--concurrency", type=int, default=4)
    a = ap.parse_args(argv)
    from pipelines.sync import SyncSettings, run_sync

    t0 = time.perf_counter()
    # The read-only serving copy is refreshed by a file copy after each sync that changed
    # something: a feature outside the sync itself, measured separately (docs/benchmarks.md).
    rep = run_sync(SyncSettings(api_url=a.api, database=Path(a.database),
                                concurrency=a.concurrency, publish=False))
    seconds = time.perf_counter() - t0
    print(json.dumps({"seconds": seconds, "requests": rep.requests, "bytes": rep.bytes,
                      "status": rep.status, "error": rep.error,
                      "modes": sorted({o.mode for o in rep.orgs})}), flush=True)


if __name__ == "__main__":
    main()
