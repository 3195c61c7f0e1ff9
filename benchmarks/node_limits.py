"""Requests and time against a strict, rate-limited node (issue 9), next to the request budget.

    python -m benchmarks.node_limits [--scale 100] [--ks 10 1000 100000]

For a full sync and for k new / k edited units (counted apart), with and without the
simulator's rate limiter: requests by route, wall time, the budget formula and the 429s the
simulator answered (target 0). The limiter is scaled down so a run takes seconds, not the
real 15-minute windows: its allowance per window is set from the full sync's own request count
(about six windows, so the limit, not the sync's own work, sets the pace), so "requests ÷ allowed rate" is the time a perfectly paced client needs.
Results go to `benchmarks/results/latest.json` (key `node_limits`) and docs/benchmarks.md §7.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import time
from pathlib import Path
from typing import Any

from cadt_sim import AdminClient

from .common import ROOT, log, simulator, tempdir
from .report import write_report

RESULTS = ROOT / "benchmarks" / "results" / "latest.json"
WINDOW_S = 4.0
CONSTANT = 3  # the organizations map, the pick lists, and the page at the since-read's boundary


def _sync(api: str, database: Path) -> dict[str, Any]:
    from pipelines.sync import SyncSettings, run_sync

    t0 = time.perf_counter()
    rep = run_sync(SyncSettings(api_url=api, database=database, concurrency=4, publish=False))
    seconds = time.perf_counter() - t0
    if rep.status != "success":
        raise RuntimeError(f"sync {rep.status}: {rep.error}")
    return {"seconds": seconds, "requests": rep.requests,
            "reads": {o.org_uid[:8]: o.reads for o in rep.orgs if o.reads}}


def _measured(admin: AdminClient, api: str, database: Path) -> dict[str, Any]:
    admin.reset_stats()
    admin.clear_rejections()
    run = _sync(api, database)
    rejected = [r for r in admin.rejections() if not r.get("fault")]
    run["by_route"] = admin.stats()["by_route"]
    run["rate_limited"] = sum(1 for r in rejected if r["status"] == 429)
    run["other_4xx"] = sum(1 for r in rejected if r["status"] != 429)
    return run


def _largest_org(admin: AdminClient, uid: str | None = None) -> tuple[str, int]:
    """The organization with the longest audit feed (the most records), and that length."""
    orgs = admin.info()["orgs"]
    uid = uid or max(orgs, key=lambda u: orgs[u]["audit"])
    return uid, int(orgs[uid]["audit"])


def _budget(audit_before: int, audit_after: int, new: int, unqualified_pages: int) -> int:
    """audit pages + ceil(n/1000) + min(ceil(k/200), pages) + constant (edits that qualify
    cost nothing: `unqualified_pages` is 0 for them)."""
    first = audit_before // 1000  # the page holding our position is read again
    audit_pages = audit_after // 1000 - first + 1
    return CONSTANT + audit_pages + math.ceil(new / 1000) + unqualified_pages


def run(scale: float, ks: list[int]) -> dict[str, Any]:
    out: dict[str, Any] = {"scale": scale, "window_s": WINDOW_S, "started":
                           time.strftime("%Y-%m-%d %H:%M:%S %Z"), "commit": _commit(),
                           "modes": {}}
    for mode in ("unlimited", "rate_limited"):
        with simulator(scale) as sim, tempdir() as work:
            admin = AdminClient(sim.url)
            db = work / "mirror.duckdb"
            entry: dict[str, Any] = {}
            out["modes"][mode] = entry
            if mode == "rate_limited":
                full_requests = out["modes"]["unlimited"]["full"]["requests"]
                allowance = max(10, math.ceil(full_requests / 6))
                admin.set_rate_limit(f"{allowance}/{WINDOW_S:g}s")
                entry["limit"] = {"requests": allowance, "window_s": WINDOW_S}
            log(f"  {mode}: full sync")
            entry["full"] = _measured(admin, sim.api, db)
            if mode == "rate_limited":
                lim = entry["limit"]
                ideal = entry["full"]["requests"] * lim["window_s"] / lim["requests"]
                entry["full"]["paced_ideal_s"] = ideal
            entry["k"] = {}
            for k in ks:
                for kind, activity in (("new", "issue_units"), ("edited", "edit_units")):
                    org, audit_before = _largest_org(admin)
                    admin.activity(activity, count=k, org=org)
                    _, audit_after = _largest_org(admin, org)
                    log(f"  {mode}: k = {k} {kind} units")
                    run_ = _measured(admin, sim.api, db)
                    run_["budget"] = _budget(audit_before, audit_after,
                                             k if kind == "new" else 0, 0)
                    if kind == "new":
                        run_["budget"] += 1  # the issuance's project is re-read for its child
                    entry["k"][f"{k}/{kind}"] = run_
                    log(f"    {run_['requests']} requests (budget {run_['budget']}), "
                        f"{run_['seconds']:.2f} s, 429s {run_['rate_limited']}")
    return out


def _commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=100)
    ap.add_argument("--ks", type=int, nargs="*", default=[10, 1000, 100_000])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    a = ap.parse_args(argv)
    save_section("node_limits", run(a.scale, a.ks), a.out)


def save_section(key: str, value: dict[str, Any], out: Path) -> None:
    """Put one benchmark's results into latest.json under `key` and regenerate the report."""
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[key] = value
    RESULTS.write_text(json.dumps(results, indent=1, default=str))
    write_report(results, out)
    log(f"report: {out}")


if __name__ == "__main__":
    main()
