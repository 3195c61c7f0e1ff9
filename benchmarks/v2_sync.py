"""Data model v2: a full node-wide sync, then incremental syncs after k changes (issue 11).

    python -m benchmarks.v2_sync [--scale 30] [--ks 10 1000]

Against `cadt-sim serve --v2 on` (v1-only, v2-only and mixed organizations; the v2 side is the
simulator's AEF-bearing registries). For each run: wall time, requests by route, and what was
read per table (`targeted` = by key / by `updated_at`, `whole` = the table again). Results go
to `benchmarks/results/latest.json` (key `v2`) and docs/benchmarks.md §8.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from cadt_sim import AdminClient

from .common import ROOT, log, simulator, tempdir
from .node_limits import _commit, save_section

# (activity kind, label, count as a share of k: AEF actions and deletions are rarer)
WORK = (("v2_edit_units", "edited units", 1.0), ("v2_issue_units", "new units", 1.0),
        ("v2_retire", "retired units", 1.0), ("v2_aef_actions", "AEF actions", 0.01),
        ("v2_delete_units", "deleted units", 0.01))


def _sync(api: str, database: Path, admin: AdminClient) -> dict[str, Any]:
    from pipelines.source.catalog_v2 import V2
    from pipelines.sync import SyncSettings, run_sync

    admin.reset_stats()
    t0 = time.perf_counter()
    rep = run_sync(SyncSettings(api_url=api, database=database, concurrency=4, publish=False),
                   catalog=V2)
    seconds = time.perf_counter() - t0
    if rep.status != "success":
        raise RuntimeError(f"v2 sync {rep.status}: {rep.error}")
    node = next((o for o in rep.orgs if o.org_uid == "*"), None)
    return {"seconds": seconds, "requests": rep.requests,
            "mode": node.mode if node else "unchanged",
            "reads": node.reads if node else {},
            "rows": {t: c[0] + c[1] for t, c in rep.changes_by_table().items()},
            "by_route": admin.stats()["by_route"]}


def run(scale: float, ks: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"scale": scale, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                           "commit": _commit(), "k": {}}
    with simulator(scale, extra=("--v2", "on")) as sim, tempdir() as work:
        admin = AdminClient(sim.url)
        db = work / "mirror.duckdb"
        log(f"== v2 at scale {scale:g}: full sync")
        out["full"] = _sync(sim.api, db, admin)
        log(f"  {out['full']['requests']} requests, {out['full']['seconds']:.2f} s")
        out["no_change"] = _sync(sim.api, db, admin)
        for k in ks:
            for kind, label, share in WORK:
                n = max(1, round(k * share))
                admin.activity(kind, count=n)
                r = _sync(sim.api, db, admin)
                r["count"] = n
                out["k"][f"{n}/{label}"] = r
                log(f"  {n} {label}: {r['requests']} requests, {r['seconds']:.2f} s, "
                    f"{r['reads']}")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=30)
    ap.add_argument("--ks", type=int, nargs="*", default=[10, 1000])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    a = ap.parse_args(argv)
    save_section("v2", run(a.scale, a.ks), a.out)


if __name__ == "__main__":
    main()
