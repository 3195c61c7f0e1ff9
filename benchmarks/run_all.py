"""Run every benchmark (issues 5 and 14) and write docs/benchmarks.md (+ benchmarks/results/*.json).

    python -m benchmarks.run_all            # full settings (scales 100/300/1000, ~45 min)
    python -m benchmarks.run_all --quick    # smoke run: tiny scales, 1 repetition (~1 min)
    python -m benchmarks.run_all --compare OLD.json   # report: CPU by stage, OLD before / this after

Each figure is measured against the simulator running in its own process (`cadt-sim serve`),
in this run, on this machine; figures print as they come.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from cadt_sim import AdminClient

from . import marts, node_limits, v2_sync
from . import measure as M
from .common import ROOT, log, machine_facts, median, simulator, tempdir
from .limit import url_digest
from .report import write_report


@dataclass
class Plan:
    scales: list[float]
    reps: dict[float, int]  # repetitions of limit / full sync per scale
    ks: list[int]  # changed units for the incremental cost
    dlt_scales: list[float]
    dlt_reps: int
    dlt_default: bool  # also run dlt's default (slow) loader
    dbt: bool
    throughput: bool
    quick: bool
    node_limits_scale: float = 100  # §7: strict and rate-limited node
    v2_scale: float = 30  # §8: data model v2, full and incremental (0: not run)


FULL = Plan(scales=[100, 300, 1000], reps={100: 3, 300: 3, 1000: 3}, ks=[10, 1000, 100_000],
            dlt_scales=[30, 100], dlt_reps=3, dlt_default=True, dbt=True, throughput=True,
            quick=False)
QUICK = Plan(scales=[1, 3], reps={1: 1, 3: 1}, ks=[10, 200], dlt_scales=[2], dlt_reps=1,
             dlt_default=False, dbt=False, throughput=True, quick=True, node_limits_scale=3,
             v2_scale=0)  # (v2 in the smoke run: tests/mirror/test_v2_incremental.py)


def bench_scale(scale: float, plan: Plan, results: dict[str, Any], workdir: Path) -> None:
    log(f"== scale {scale:g}")
    with simulator(scale) as sim:
        admin = AdminClient(sim.url)
        info = admin.info()
        entry: dict[str, Any] = {"scale": scale, "sim_build_s": sim.build_s,
                                 "sim_rss_mb": sim.rss_mb(), "sim_info": _sizes(info)}
        results["scales"][f"{scale:g}"] = entry
        reps = plan.reps.get(scale, 1)

        if plan.throughput:
            entry["throughput"] = M.sim_throughput(sim.api, admin, sim.proc.pid)
            for how, t in entry["throughput"].items():
                log(f"  simulator: {t['pages_per_s']:.0f} unit pages/s ({how}); server CPU "
                    f"{t['server_cpu_ms_per_page']:.1f} ms/page")

        log("  full sync vs the limit")
        db = workdir / f"mirror-{scale:g}.duckdb"
        syncs = full_vs_limit(sim, admin, entry, db, reps)

        if scale in plan.dlt_scales:
            bench_dlt(sim, plan, results, workdir, ours=syncs, limits=entry["limit"],
                      records=entry["recorded"]["records"], db=db)

        log("  incremental cost")
        inc: dict[str, Any] = {"no_change": []}
        for _ in range(3):
            inc["no_change"].append(M.incremental_sync(sim.api, db))
        nc = inc["no_change"]
        log(f"    no change: {max(r['requests'] for r in nc)} requests, "
            f"median {median([r['seconds'] for r in nc]):.3f} s")
        org = M.largest_org(admin)
        inc["k"] = []
        for k in plan.ks:
            t0 = time.perf_counter()
            act = admin.activity("edit_units", k, org)
            act_s = time.perf_counter() - t0
            r = M.incremental_sync(sim.api, db)
            r.update({"k": k, "changed": act.get("changed", {}), "activity_s": act_s})
            inc["k"].append(r)
            log(f"    k={k}: {act.get('changed')} -> {r['requests']} requests, "
                f"{r['seconds']:.2f} s")
        inc["publish"] = M.publish_time(db)
        log(f"    serving-copy refresh: {inc['publish']['seconds']:.2f} s "
            f"({inc['publish']['file_mb']:.0f} MiB file)")
        entry["incremental"] = inc

        if plan.dbt and scale == max(plan.scales):  # (the targets are the top scale's)
            log("  marts: cadt-mirror build")
            entry["marts"] = marts.run(sim.api, admin, db, org)
    _save(results)


def full_vs_limit(sim, admin: AdminClient, entry: dict[str, Any], db: Path,
                  reps: int) -> list[dict[str, Any]]:
    """§1: the limit (recorded URLs replayed), the limit incl. parsing (the recording crawl)
    and the full sync, interleaved so that drift affects all alike; then the stage breakdown."""
    admin.reset_stats()
    crawl = M.record(sim.api)  # also the warm-up
    entry["crawl_by_route"] = admin.stats()["by_route"]
    entry["recorded"] = {"requests": len(crawl.urls), "digest": url_digest(crawl.urls),
                         "by_path": crawl.by_path, "records": crawl.records}
    limits, parsed, syncs = [], [], []
    for _ in range(reps):
        parsed += M.crawl_runs(sim.api, 1, crawl.urls)
        admin.reset_stats()
        limits += M.limit_runs(sim.api, 1, crawl.urls)
        entry.setdefault("limit_by_route", admin.stats()["by_route"])  # the first replay's
        admin.reset_stats()
        syncs += M.sync_runs(sim.api, db, 1)
    entry["sync_by_route"] = admin.stats()["by_route"]
    entry["limit"], entry["limit_incl_parsing"], entry["full_sync"] = limits, parsed, syncs
    entry.update(ratios(limits, parsed, syncs))
    log(f"  -> full sync / limit = {entry['ratio']:.2f}x wall, {entry['cpu_ratio']:.2f}x CPU "
        f"(median {M.summarize(syncs):.2f} s vs {M.summarize(limits):.2f} s; limit incl. "
        f"parsing {M.summarize(parsed):.2f} s)")
    entry["stages"] = M.stage_breakdown(sim.api, db)
    return syncs


def ratios(limits: list[dict], parsed: list[dict], syncs: list[dict]) -> dict[str, float]:
    """Medians of the sync over medians of the limit (wall, CPU) and of the parsing crawl."""
    sync_s, sync_cpu = M.summarize(syncs), M.summarize(syncs, "cpu_seconds")
    return {"ratio": sync_s / M.summarize(limits),
            "cpu_ratio": sync_cpu / M.summarize(limits, "cpu_seconds"),
            "ratio_incl_parsing": sync_s / M.summarize(parsed),
            "cpu_ratio_incl_parsing": sync_cpu / M.summarize(parsed, "cpu_seconds")}


def _sizes(info: dict[str, Any]) -> dict[str, Any]:
    tables = info.get("tables") or {}
    orgs = info.get("orgs") or {}
    return {"projects": tables.get("projects"), "units": tables.get("units"),
            "audit": sum(o.get("audit", 0) for o in orgs.values()), "orgs": len(orgs)}


def bench_dlt(sim, plan: Plan, results: dict[str, Any], workdir: Path, *,
              ours: list[dict] | None = None, limits: list[dict] | None = None,
              records: dict[str, int] | None = None, db: Path | None = None) -> None:
    scale = sim.scale
    log(f"  dlt rest_api at scale {scale:g}")
    entry: dict[str, Any] = {"scale": scale}
    results["dlt"][f"{scale:g}"] = entry
    db = db or workdir / f"mirror-dlt-{scale:g}.duckdb"
    if limits is None:
        crawl = M.record(sim.api)
        limits, records = M.limit_runs(sim.api, plan.dlt_reps, crawl.urls), crawl.records
    if ours is None:
        ours = M.sync_runs(sim.api, db, plan.dlt_reps)
    entry["limit"], entry["ours"], entry["records"] = limits, ours, records
    if plan.dlt_default:
        d = workdir / f"dlt-default-{scale:g}"
        entry["default"] = [M.dlt_run(sim.api, d, parquet=False)]
        r = entry["default"][0]
        log(f"    dlt default: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MiB, "
            f"rows {r['rows']}")
    entry["parquet"] = []
    for i in range(plan.dlt_reps):
        d = workdir / f"dlt-parquet-{scale:g}-{i}"
        r = M.dlt_run(sim.api, d, parquet=True)
        entry["parquet"].append(r)
        log(f"    dlt parquet #{i + 1}: {r['seconds']:.1f} s, peak RSS "
            f"{r['peak_rss_mb']:.0f} MiB, rows {r['rows']}")
    if scale != max(plan.dlt_scales):
        return

    # incremental and correctness, on the same activity
    log("    incremental: dlt updatedAt cursor vs ours")
    inc_dir = workdir / f"dlt-inc-{scale:g}"
    entry["incremental_initial"] = M.dlt_run(sim.api, inc_dir, parquet=True, incremental=True)
    full_dir = workdir / f"dlt-parquet-{scale:g}-0"  # a merge-on-reload pipeline, already loaded
    admin = AdminClient(sim.url)
    n_units = len(admin.truth("units"))
    k = max(3, n_units // 1000)  # 0.1 % of the units
    per = max(1, k // 4)
    activity = [("edit_units", per), ("retire", per), ("delete_units", per),
                ("issue_units", k - 3 * per)]
    entry["activity"] = [admin.activity(kind, n) | {"kind": kind, "count": n}
                         for kind, n in activity]
    log(f"    activity ({k} units = 0.1 %): {[(a['kind'], a['changed']) for a in entry['activity']]}")
    entry["ours_incremental"] = M.incremental_sync(sim.api, db)
    entry["dlt_incremental"] = M.dlt_run(sim.api, inc_dir, parquet=True, incremental=True)
    entry["dlt_full_merge"] = M.dlt_run(sim.api, full_dir, parquet=True)
    log(f"    ours incremental {entry['ours_incremental']['seconds']:.2f} s "
        f"({entry['ours_incremental']['requests']} requests); dlt updatedAt incremental "
        f"{entry['dlt_incremental']['seconds']:.2f} s; dlt full re-load + merge "
        f"{entry['dlt_full_merge']['seconds']:.2f} s")
    truth = admin.truth("units")
    entry["wrong"] = {
        "ours (incremental)": M.compare_units(truth, M.our_units(db)),
        "dlt updatedAt incremental": M.compare_units(truth, M.dlt_units(inc_dir)),
        "dlt full re-load + merge": M.compare_units(truth, M.dlt_units(full_dir)),
    }
    for who, w in entry["wrong"].items():
        log(f"    wrong rows, {who}: {w}")


RESULTS_DIR = ROOT / "benchmarks" / "results"
_RESULTS_FILE: list[Path] = []


def _save(results: dict[str, Any]) -> None:
    if _RESULTS_FILE:
        _RESULTS_FILE[0].write_text(json.dumps(results, indent=1, default=str))


def compared_with(old: dict[str, Any]) -> dict[str, Any]:
    """What the report's before column needs of an older run: when, where, its stage CPU."""
    return {"started": old.get("started"), "machine": old.get("machine", {}),
            "scales": {k: {key: e[key] for key in ("stages", "limit", "recorded") if key in e}
                       for k, e in old.get("scales", {}).items()}}


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="tiny scales, 1 repetition")
    ap.add_argument("--scales", type=float, nargs="*", help="override the sync scales")
    ap.add_argument("--reps", type=int, help="repetitions at every scale")
    ap.add_argument("--top-reps", type=int, help="repetitions at the largest scale")
    ap.add_argument("--no-dlt", action="store_true")
    ap.add_argument("--no-dbt", action="store_true")
    ap.add_argument("--out", type=Path, help="markdown report (default docs/benchmarks.md; "
                    "--quick writes none unless given)")
    ap.add_argument("--json", type=Path, help="raw results (default benchmarks/results/)")
    ap.add_argument("--compare", type=Path, metavar="OLD.json",
                    help="an older run's results: the report's CPU breakdown shows it as before")
    a = ap.parse_args(argv)
    base = QUICK if a.quick else FULL  # copied: options of one call must not leak into the next
    plan = replace(base, scales=list(base.scales), reps=dict(base.reps),
                   dlt_scales=list(base.dlt_scales))
    if a.scales:
        plan.scales = a.scales
        plan.reps = {s: plan.reps.get(s, 3 if not a.quick else 1) for s in a.scales}
    if a.reps:
        plan.reps = dict.fromkeys(plan.scales, a.reps)
        plan.dlt_reps = a.reps
    if a.top_reps:
        plan.reps[max(plan.scales)] = a.top_reps
    if a.no_dlt:
        plan.dlt_scales = []
    if a.no_dbt:
        plan.dbt = False
    out = a.out if a.out else (None if a.quick else ROOT / "docs" / "benchmarks.md")
    json_path = a.json or RESULTS_DIR / ("quick.json" if a.quick else "latest.json")
    json_path.parent.mkdir(parents=True, exist_ok=True)
    _RESULTS_FILE[:] = [json_path]

    t0 = time.perf_counter()
    results: dict[str, Any] = {"machine": machine_facts(), "quick": plan.quick,
                               "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                               "plan": {"scales": plan.scales, "reps": plan.reps, "ks": plan.ks,
                                        "dlt_scales": plan.dlt_scales},
                               "scales": {}, "dlt": {}}
    log("machine: " + ", ".join(f"{k} {v}" for k, v in results["machine"].items()))
    with tempdir() as work:
        for scale in plan.scales:
            bench_scale(scale, plan, results, work)
        for scale in plan.dlt_scales:
            if scale not in plan.scales:
                with simulator(scale) as sim:
                    bench_dlt(sim, plan, results, work)
                _save(results)
    log(f"== strict, rate-limited node (scale {plan.node_limits_scale:g})")
    results["node_limits"] = node_limits.run(plan.node_limits_scale, plan.ks)
    _save(results)
    if plan.v2_scale:
        log(f"== data model v2 (scale {plan.v2_scale:g})")
        results["v2"] = v2_sync.run(plan.v2_scale, [k for k in plan.ks if k <= 1000])
        _save(results)
    results["total_s"] = time.perf_counter() - t0
    _save(results)
    log(f"done in {results['total_s'] / 60:.1f} min; raw results in {json_path}")
    if a.compare:  # kept with the results: a later re-render (a section's own run) shows it too
        results["compared_with"] = compared_with(json.loads(a.compare.read_text()))
        _save(results)
    if out is not None:
        write_report(results, out)
        log(f"report: {out}")
    return results


if __name__ == "__main__":
    main()
