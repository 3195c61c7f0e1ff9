"""Render the raw results (benchmarks/results/*.json) as docs/benchmarks.md.

    python -m benchmarks.report [benchmarks/results/latest.json] [docs/benchmarks.md]
    python -m benchmarks.report --compare OLD.json   # §1's CPU breakdown: OLD before, this after
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

from . import marts
from .common import verdict as _verdict
from .stages import STAGES

ROOT = Path(__file__).resolve().parent.parent


def _med(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _f(x: float | None, fmt: str = ".2f", unit: str = "") -> str:
    return "–" if x is None else f"{x:{fmt}}{unit}"


def _upgrade(r: dict[str, Any]) -> dict[str, Any]:
    """Results of runs before issue 14, whose "limit" parsed every page, in today's terms: that
    figure is the limit incl. parsing, and the limit itself was not measured."""
    r = json.loads(json.dumps(r))  # a copy: the caller's results stay as they are
    for e in [*r.get("scales", {}).values(), *r.get("dlt", {}).values()]:
        if "limit" in e and "recorded" not in e and "records" not in e:
            e["limit_incl_parsing"] = e.pop("limit")
            if "ratio" in e:
                e["ratio_incl_parsing"] = e.pop("ratio")
            e.pop("limit_by_route", None)
    return r


def _ratio_verdict(worst: float, target: float) -> str:
    if worst <= target:
        return _verdict(True, f"worst {worst:.2f}×")
    return _verdict(False, f"worst {worst:.2f}×, {worst / target:.1f}× the target")


# (results key, target, summary text) of issue 14's targets against the limit
_LIMIT_TARGETS = (
    ("ratio", 1.25, "full sync ≤ 1.25 × the limit (wall time) at every scale"),
    ("cpu_ratio", 2.5, "sync CPU ≤ 2.5 × the limit client's CPU at every scale"),
)
RSS_TARGET_MIB = 640


def _scale_sort(d: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(d.items(), key=lambda kv: float(kv[0]))


def render(r: dict[str, Any], compare: dict[str, Any] | None = None) -> str:
    """The page for results `r`; with `compare` (an older run's results), §1's CPU breakdown
    shows that run as *before* beside this one as *after*."""
    compare = compare or r.get("compared_with")  # (run_all --compare keeps it with the results)
    r, compare = _upgrade(r), _upgrade(compare) if compare else None
    scales = _scale_sort(r.get("scales", {}))
    dlt = _scale_sort(r.get("dlt", {}))
    out: list[str] = []
    w = out.append
    w("# Benchmarks")
    w("")
    w("Every figure below was measured in one run of `make bench` (`python -m benchmarks.run_all`)"
      f" started {r.get('started', '?')}, on the machine described under *Machine*, against the "
      "simulator (`cadt-sim serve`, seed 1) running in its own process on the same machine. "
      "Ratios compare runs made in that same run. The raw figures are in "
      "`benchmarks/results/latest.json`; this page is generated from them by "
      "`python -m benchmarks.report` (the *Why* paragraphs are hand-written).")
    reps = (r.get("plan") or {}).get("reps") or {}
    if reps and max(reps.values()) < 3:
        w("")
        w("> This run used **1 repetition per figure** (a session time budget); `make bench` "
          "defaults to 3 (medians). Verdicts below are far from their thresholds except where "
          "noted.")
    if r.get("quick"):
        w("")
        w("> **This is a `--quick` smoke run (tiny scales, 1 repetition): not a measurement.**")
    w("")

    # ---- summary -------------------------------------------------------------------------
    w("## Summary")
    w("")
    w("| # | Target | Measured | Verdict |")
    w("|---|---|---|---|")
    for key, target, what in _LIMIT_TARGETS:
        got = [(k, e[key]) for k, e in scales if e.get(key)]
        if got:
            w(f"| 1 | {what} | " + ", ".join(f"scale {k}: {x:.2f}×" for k, x in got) + " | "
              + _ratio_verdict(max(x for _, x in got), target) + " |")
    got = [(k, e["ratio_incl_parsing"]) for k, e in scales if e.get("ratio_incl_parsing")]
    if got:
        w("| 1 | reference: full sync / the limit incl. parsing (wall time) | "
          + ", ".join(f"scale {k}: {x:.2f}×" for k, x in got) + " | informational |")
    lin = _linearity(scales)
    if lin:
        w(f"| 1 | time grows linearly with size | {lin[0]} | {lin[1]} |")
    for k, d in dlt:
        ours = _med([x["seconds"] for x in d.get("ours", [])])
        pq = _med([x["seconds"] for x in d.get("parquet", [])])
        if ours and pq:
            w(f"| 2 | full sync ≥ 5 × faster than dlt (parquet) — scale {k} | ours "
              f"{ours:.1f} s vs dlt {pq:.1f} s = {pq / ours:.2f}× | "
              + _verdict(pq / ours >= 5, (f"ours {pq / ours:.2f}× faster" if pq / ours >= 5
                                          else f"ours only {pq / ours:.2f}× faster")
                         if pq >= ours else f"dlt is {ours / pq:.2f}× faster") + " |")
        if d.get("ours_incremental") and d.get("dlt_incremental"):
            a, b = d["ours_incremental"]["seconds"], d["dlt_incremental"]["seconds"]
            w(f"| 2 | exact incremental (0.1 % changed) no slower than dlt's `updatedAt` "
              f"incremental — scale {k} | ours {a:.2f} s vs dlt {b:.2f} s | "
              + _verdict(a <= b, f"{b / a:.1f}× faster" if a <= b else f"{a / b:.1f}× slower")
              + " |")
            wr = d.get("wrong", {})
            if wr:
                w("| 2 | what each gets wrong after the same activity | "
                  + ", ".join(f"{who}: {x['total_wrong']} rows" for who, x in wr.items())
                  + " | see §2 |")
    nc = [(k, e["incremental"]["no_change"]) for k, e in scales if e.get("incremental")]
    if nc:
        req = max(max(x["requests"] for x in v) for _, v in nc)
        sec = max(_med([x["seconds"] for x in v]) for _, v in nc)
        w(f"| 3 | no-change sync ≤ 2 requests and < 1 s at every scale | ≤ {req} requests, "
          f"≤ {sec:.2f} s | " + _verdict(req <= 2 and sec < 1) + " |")
        w("| 3 | incremental cost grows with k, not with size | see §3 | "
          + _k_verdict(scales) + " |")
    out.extend(marts.summary_rows(r))
    if scales:
        k, top = scales[-1]
        rss = max((x.get("peak_rss_mb", 0) for x in top.get("full_sync", [])), default=None)
        w(f"| 5 | full-sync peak RSS ≤ {RSS_TARGET_MIB} MiB at the top scale (issue 14; issue 5 "
          f"asked ≤ 1 GB) | scale {k}: {_f(rss, '.0f')} MiB | "
          + _verdict(None if rss is None else rss <= RSS_TARGET_MIB,
                     None if rss is None else f"{rss / RSS_TARGET_MIB:.2f}× the bound") + " |")
        tp = top.get("throughput") or {}
        if tp:
            w(f"| 6 | simulator throughput (1000-unit pages) | scale {k}: "
              + ", ".join(f"{v['pages_per_s']:.0f} pages/s {how}" for how, v in tp.items())
              + " | informational |")
    w("")

    # ---- machine & reproduce --------------------------------------------------------------
    w("## Machine")
    w("")
    w("| | |")
    w("|---|---|")
    for k, v in r.get("machine", {}).items():
        w(f"| {k} | {v} |")
    if r.get("total_s"):
        w(f"| run time | {r['total_s'] / 60:.1f} min |")
    w("")
    w("## Reproduce")
    w("")
    w("```bash")
    w("make bench                                   # = uv sync --extra bench; python -m benchmarks.run_all")
    w(".venv/bin/python -m benchmarks.run_all --quick --out /tmp/b.md   # smoke run, ~30 s")
    w(".venv/bin/python -m benchmarks.run_all --scales 100 --no-dlt      # one scale")
    w(".venv/bin/python -m benchmarks.report benchmarks/results/latest.json docs/benchmarks.md")
    w(".venv/bin/python -m benchmarks.report --compare OLD.json           # CPU by stage: before / after")
    w(".venv/bin/pytest tests/bench -q                                   # CI smoke test")
    w("```")
    w("")
    w("Scripts: `benchmarks/limit.py` (the limit: a recorded crawl, replayed without parsing), "
      "`benchmarks/sync_child.py` (one sync in a child process, wall and CPU time; peak RSS of "
      "the process tree sampled every 50 ms and the kernel's `ru_maxrss`, whichever is larger), "
      "`benchmarks/stages.py` (CPU per stage of the sync), `benchmarks/dlt_child.py` (dlt's "
      "`rest_api` configuration), `benchmarks/measure.py`, `benchmarks/run_all.py`.")
    w("")

    # ---- 1 ----------------------------------------------------------------------------------
    out.extend(full_sync_section(scales))
    out.extend(stage_section(_stage_runs(r, compare)))
    w(WHY_1)
    w("")

    # ---- 2 ----------------------------------------------------------------------------------
    w("## 2. Against dlt's `rest_api` source")
    w("")
    w(DLT_SETUP)
    w("")
    w("| scale | limit (§1) | ours: full sync | dlt default loader | dlt parquet loader | dlt parquet / "
      "ours | peak RSS ours | peak RSS dlt default | peak RSS dlt parquet |")
    w("|---|---|---|---|---|---|---|---|---|")
    for k, d in dlt:
        lim = _med([x["seconds"] for x in d.get("limit", [])])
        ours = _med([x["seconds"] for x in d.get("ours", [])])
        de = _med([x["seconds"] for x in d.get("default", [])])
        pq = _med([x["seconds"] for x in d.get("parquet", [])])
        rss = lambda xs: max((x.get("peak_rss_mb", 0) for x in xs), default=None)  # noqa: E731
        w(f"| {k} | {_f(lim)} s | {_f(ours)} s ({_f(ours / lim if ours and lim else None, '.1f')}×"
          f" limit) | {_f(de, '.1f')} s ({_f(de / lim if de and lim else None, '.1f')}× limit) | "
          f"{_f(pq, '.1f')} s ({_f(pq / lim if pq and lim else None, '.1f')}× limit) | "
          f"{_f(pq / ours if pq and ours else None)}× | {_f(rss(d.get('ours', [])), '.0f')} MiB | "
          f"{_f(rss(d.get('default', [])), '.0f')} MiB | {_f(rss(d.get('parquet', [])), '.0f')} MiB |")
    w("")
    w(WHY_2_SPEED)
    w("")
    for k, d in dlt:
        if not d.get("wrong"):
            continue
        acts = ", ".join(f"{a['kind']} ×{a['count']} ({sum(a.get('changed', {}).values())} "
                         "rows touched)" for a in d.get("activity", []))
        w(f"**Incremental after 0.1 % of the units changed (scale {k})** — activity: {acts}.")
        w("")
        w("| sync | wall time | requests |")
        w("|---|---|---|")
        oi = d["ours_incremental"]
        w(f"| ours, exact incremental (audit feed) | {oi['seconds']:.2f} s | {oi['requests']} |")
        w(f"| dlt, `updatedAt` cursor incremental (parquet) | "
          f"{d['dlt_incremental']['seconds']:.2f} s | – |")
        w(f"| dlt, full re-load + merge (parquet) | {d['dlt_full_merge']['seconds']:.2f} s | – |")
        w("")
        w("**What each gets wrong** afterwards — units compared with `AdminClient.truth('units')`"
          " on `warehouseUnitId` and " + ", ".join(f"`{c}`" for c in _UNIT_COLS) + ":")
        w("")
        w("| mirror | rows | truth rows | missing (new at source) | deleted at source but kept "
          "| stale status (retirements) | other stale fields (edits) | total wrong |")
        w("|---|---|---|---|---|---|---|---|")
        for who, x in d["wrong"].items():
            w(f"| {who} | {x['mirror_rows']:,} | {x['truth_rows']:,} | {x['missing']} | "
              f"{x['deleted_at_source_but_kept']} | {x['stale_status']} | "
              f"{x['stale_other_fields']} | **{x['total_wrong']}** |")
        w("")
    w(WHY_2)
    w("")

    # ---- 3 ----------------------------------------------------------------------------------
    w("## 3. Incremental cost")
    w("")
    w("After the full syncs of §1, on the same mirror: three syncs with no change at the source,"
      " then `edit_units` with count k on the largest organization followed by one sync each "
      "(k is capped by the org's size at the smaller scales; *changed* is what the simulator "
      "reports). Wall time is measured around `run_sync` in-process, without the refresh of "
      "the serving copy, which is timed on its own in the last column.")
    w("")
    w("| scale | no-change requests | no-change time (median of 3) | "
      + " | ".join(f"k = {k:,}: changed / requests / time" for k in r.get("plan", {}).get("ks", []))
      + " | serving-copy refresh |")
    w("|---|---|---|" + "---|" * (len(r.get("plan", {}).get("ks", [])) + 1))
    for k, e in scales:
        inc = e.get("incremental")
        if not inc:
            continue
        v = inc["no_change"]
        cells = [f"{sum(x.get('changed', {}).values()):,} / {x['requests']} / {x['seconds']:.2f} s"
                 for x in inc.get("k", [])]
        pub = inc.get("publish")
        cells.append(f"{pub['seconds']:.2f} s ({pub['file_mb']:,.0f} MiB)" if pub else "–")
        w(f"| {k} | {max(x['requests'] for x in v)} | "
          f"{_med([x['seconds'] for x in v]):.3f} s | " + " | ".join(cells) + " |")
    w("")
    w(WHY_3)
    w("")

    # ---- 4 ----------------------------------------------------------------------------------
    out.extend(marts.section(r))

    # ---- 5 ----------------------------------------------------------------------------------
    w("## 5. Memory")
    w("")
    w("Peak RSS of the full-sync child process (the sync alone; the simulator is another "
      "process): " + ", ".join(
          f"scale {k}: {max(x.get('peak_rss_mb', 0) for x in e['full_sync']):.0f} MiB"
          for k, e in scales if e.get("full_sync")) + ". Simulator RSS after build: " + ", ".join(
          f"scale {k}: {e.get('sim_rss_mb', 0):.0f} MiB" for k, e in scales) + ".")
    w("")
    w(WHY_5)
    w("")

    # ---- 6 ----------------------------------------------------------------------------------
    w("## 6. Simulator throughput")
    w("")
    w("1000-unit keyset pages of the largest organization: first crawled by one client that "
      "parses every page with orjson, then the same URLs replayed without parsing by 1 "
      "and 4 concurrent clients; server CPU per page from the simulator process.")
    w("")
    hows = []
    for _, e in scales:
        for how in (e.get("throughput") or {}):
            if how not in hows:
                hows.append(how)
    w("| scale | " + " | ".join(f"{h}: pages/s (server ms/page)" for h in hows) + " |")
    w("|---|" + "---|" * len(hows))
    for k, e in scales:
        tp = e.get("throughput") or {}
        w(f"| {k} | " + " | ".join(
            f"{tp[h]['pages_per_s']:.0f} ({tp[h]['server_cpu_ms_per_page']:.1f})" if h in tp
            else "–" for h in hows) + " |")
    w("")
    w(WHY_6)
    w("")
    out.extend(node_limits_section(r.get("node_limits")))
    out.extend(v2_section(r.get("v2")))
    w("## What is missing")
    w("")
    w(MISSING)
    w("")
    return "\n".join(out)


# ---- §1 ----------------------------------------------------------------------------------------

LIMIT_INTRO = (
    "*The limit* (`benchmarks/limit.py`) is the least a client can do to get what the full sync "
    "gets: the same pages, the same concurrency (4 requests in flight), each body read fully and "
    "dropped, no parsing. A keyset crawl cannot run without reading each page's last key, so the "
    "pages are found once per scale by a crawl built from the sync's own crawl functions "
    "(`crawl_audit`, `crawl_keyset` with a sink that drops each page) and `CadtClient`, which "
    "reads every page with the sync's strict Arrow reader and records the path and query of each "
    "request in the order sent. The limit replays exactly those URLs, in that order, with httpx "
    "(the library, headers and connection limits of `CadtClient`). *Limit incl. parsing* is the "
    "recording crawl itself, timed again at each repetition: what earlier runs of this page "
    "called the limit, kept as a second reference. CPU is process CPU time (every thread, "
    "`time.process_time()`): for the limit, the benchmark process during the replay (it runs "
    "in-process); for the sync, the sync child during `run_sync`. Full syncs run in a child "
    "process into a fresh DuckDB file; the limit, the limit incl. parsing and the sync are "
    "interleaved at each repetition, and ratios are of medians. Besides the limit's pages the "
    "sync asks for what its post-snapshot count check needs: a second `/v1/organizations` and "
    "one `limit=1` request per org for projects and units (table below).")


def full_sync_section(scales: list[tuple[str, Any]]) -> list[str]:
    """§1: the full sync against the limit and the limit incl. parsing, wall and CPU."""
    out = ["## 1. Full sync vs the limit", "", LIMIT_INTRO, ""]
    w = out.append
    w("| scale | projects | units | audit rows | orgs | reps | limit: wall / CPU | limit incl. "
      "parsing: wall / CPU | full sync: wall / CPU | wall ratio | CPU ratio | sync MiB/s "
      "| peak RSS | warehouse file |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for k, e in scales:
        si, syncs = e.get("sim_info", {}), e.get("full_sync", [])
        syn = _med([x["seconds"] for x in syncs])
        mb = syncs[0]["bytes"] / 2**20 if syncs else None
        rss = max((x.get("peak_rss_mb", 0) for x in syncs), default=None)
        size = _med([x["file_mb"] for x in syncs if "file_mb" in x])
        w(f"| {k} | {si.get('projects', '?'):,} | {si.get('units', '?'):,} | "
          f"{si.get('audit', '?'):,} | {si.get('orgs', '?')} | {len(syncs)} | "
          f"{_wall_cpu(e.get('limit', []))} | {_wall_cpu(e.get('limit_incl_parsing', []))} | "
          f"{_wall_cpu(syncs)} | {_f(e.get('ratio'))}× | {_f(e.get('cpu_ratio'))}× | "
          f"{_f(mb / syn if mb and syn else None, '.1f')} | {_f(rss, '.0f')} MiB | "
          f"{_f(size, '.0f', ' MiB')} |")
    w("")
    w("Requests by route (limit / full sync), as the simulator counted them:")
    w("")
    w("| scale | " + " | ".join(_ROUTES) + " |")
    w("|---|" + "---|" * len(_ROUTES))
    for k, e in scales:
        a, b = e.get("limit_by_route", {}), e.get("sync_by_route", {})
        w(f"| {k} | " + " | ".join(f"{a.get(x, 0)} / {b.get(x, 0)}" for x in _ROUTES) + " |")
    w("")
    w(_replay_check(scales))
    w("")
    w("All repetitions (wall seconds, CPU seconds in brackets): " + "; ".join(
        f"scale {k}: limit {_reps(e.get('limit', []))}, limit incl. parsing "
        f"{_reps(e.get('limit_incl_parsing', []))}, sync {_reps(e.get('full_sync', []))}"
        for k, e in scales) + ".")
    w("")
    return out


def _wall_cpu(runs: list[dict[str, Any]]) -> str:
    wall = _med([x.get("seconds") for x in runs])
    cpu = _med([x.get("cpu_seconds") for x in runs])
    return f"{_f(wall)} s / {_f(cpu)} s"


def _reps(runs: list[dict[str, Any]]) -> str:
    return "[" + ", ".join(f"{x['seconds']:.2f} ({_f(x.get('cpu_seconds'))})" for x in runs) + "]"


def _replay_check(scales: list[tuple[str, Any]]) -> str:
    """One sentence: did every replay send exactly the recorded URLs (and the crawl repeat)?"""
    if not any(e.get("recorded") for _, e in scales):
        return "Replay check: no replay in this run (its limit parsed every page)."
    problems = []
    for k, e in scales:
        rec = e.get("recorded") or {}
        if not all(x.get("urls_match") and not x.get("bad_status") for x in e.get("limit", [])):
            problems.append(f"scale {k}: a replay did not send exactly the recorded URLs, or got "
                            "an answer other than 200")
        if e.get("crawl_by_route") != e.get("limit_by_route"):
            problems.append(f"scale {k}: the simulator counted other requests for the replay "
                            "than for the recorded crawl")
        if not all(x.get("same_urls") for x in e.get("limit_incl_parsing", [])):
            problems.append(f"scale {k}: a repetition of the recording crawl sent other URLs "
                            f"than the recorded {rec.get('requests', '?')}")
    if problems:
        return "**Replay check failed**: " + "; ".join(problems) + "."
    return ("Replay check: at every scale each replay sent exactly the recorded URLs (" + ", ".join(
        f"scale {k}: {(e.get('recorded') or {}).get('requests', '?')}" for k, e in scales)
        + "), every answer was a 200, the simulator counted the same requests per route for the "
        "recorded crawl and the replay, and every repetition of the recording crawl sent the "
        "same URLs again.")


STAGE_INTRO = (
    "**CPU by stage.** One more full sync per scale, after the timed repetitions, runs with the "
    "stage functions wrapped by per-thread CPU timers (`benchmarks/stages.py`, installed in the "
    "sync child only; `time.thread_time()` measured inside each call, on the thread that runs "
    "it): *fetch* = `CadtClient.get` (its own coroutine steps: request building, HTTP parsing, "
    "reading the body), *parse* = `parse_page` (the strict Arrow reader, in `asyncio.to_thread` "
    "workers) and the orjson fallback of `crawl.get_page`, *land* = `landing.stage_pages` (the "
    "staging DuckDB thread), *commit* = the engine's `_Sync._commit` (the commit DuckDB thread), "
    "*bookkeeping* = the rest of the process CPU time: the engine, the crawl logic, the event loop "
    "(its socket callbacks and scheduling included) and the other DuckDB statements; the part of "
    "it spent on the event loop's thread is given in brackets. Times are exclusive (a timed call "
    "inside another counts once). The timers cost a little, so this sync is not one of the timed "
    "repetitions; its own wall and CPU time are in the last rows, beside the limit client's CPU "
    "(median) and the 2.5× target derived from it.")


def _stage_runs(r: dict[str, Any], compare: dict[str, Any] | None) -> list[tuple[str, Any]]:
    if compare is None:
        return [("this run", r)]
    when = f"{compare.get('started', '?')}, commit {compare.get('machine', {}).get('git commit', '?')}"
    return [(f"before (run of {when})", compare), ("after (this run)", r)]


def stage_section(runs: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """§1: CPU seconds per stage and scale, one column per run (before / after)."""
    keys = sorted({k for _, res in runs for k, e in res.get("scales", {}).items()
                   if e.get("stages")}, key=float)
    if not keys:
        return []
    out = [STAGE_INTRO, ""]
    w = out.append
    two = len(runs) == 2
    w("| scale | stage | " + " | ".join(label for label, _ in runs)
      + (" | after / before |" if two else " |"))
    w("|---|---|" + "---|" * (len(runs) + int(two)))
    for k in keys:
        entries = [res.get("scales", {}).get(k) or {} for _, res in runs]
        for i, (row, values) in enumerate(_stage_rows(entries)):
            cells = [txt for txt, _ in values]
            if two:
                a, b = values[0][1], values[1][1]
                cells.append(f"{b / a:.2f}×" if a and b else "–")
            w(f"| {k if i == 0 else ''} | {row} | " + " | ".join(cells) + " |")
    w("")
    return out


def _stage_rows(entries: list[dict[str, Any]]) -> list[tuple[str, list[tuple[str, float | None]]]]:
    """(row label, [(cell, value) per run]) for one scale."""
    rows: list[tuple[str, list[tuple[str, float | None]]]] = []
    runs = [e.get("stages") or {} for e in entries]
    total = [(r.get("stages") or {}).get("process_cpu") for r in runs]

    def share(x: float | None, t: float | None) -> str:
        return f"{x:.2f} s ({x / t:.0%})" if x is not None and t else _f(x, ".2f", " s")

    for stage in (*STAGES, "bookkeeping"):
        vals = [(r.get("stages") or {}).get("cpu_seconds", {}).get(stage) for r in runs]
        cells = [(share(v, t), v) for v, t in zip(vals, total, strict=True)]
        if stage == "bookkeeping":
            loops = [(r.get("stages") or {}).get("bookkeeping_event_loop") for r in runs]
            cells = [(f"{c} [event loop {_f(lp)} s]" if v is not None else c, v)
                     for (c, v), lp in zip(cells, loops, strict=True)]
        rows.append((stage, cells))
    rows.append(("**total CPU** (this sync)", [(_f(t, ".2f", " s"), t) for t in total]))
    walls = [r.get("seconds") for r in runs]
    rows.append(("wall time (this sync)", [(_f(x, ".2f", " s"), x) for x in walls]))
    lim = [_med([x.get("cpu_seconds") for x in e.get("limit", [])]) for e in entries]
    rows.append(("limit client's CPU (median)", [(_f(x, ".2f", " s"), x) for x in lim]))
    rows.append(("target: 2.5 × the limit's CPU", [(_f(x * 2.5 if x else None, ".2f", " s"),
                                                   x * 2.5 if x else None) for x in lim]))
    return rows


_ROUTES = ("/v1/organizations", "/v1/governance/meta/pickList", "/v1/audit", "/v1/projects",
           "/v1/units")
_UNIT_COLS = ("unitStatus", "unitStatusReason", "unitOwner", "correspondingAdjustmentStatus",
              "unitCount", "serialNumberBlock", "vintageYear")


def _linearity(scales: list[tuple[str, Any]]) -> tuple[str, str] | None:
    pts = [(e["sim_info"].get("units") or 0, _med([x["seconds"] for x in e.get("full_sync", [])]))
           for _, e in scales if e.get("full_sync")]
    pts = [(u, s) for u, s in pts if u and s]
    if len(pts) < 2:
        return None
    pts.sort()
    per = [s / u * 1e5 for u, s in pts]
    growth = per[-1] / per[0]  # > 1: super-linear
    return (", ".join(f"{p:.1f} s per 100k units" for p in per),
            _verdict(growth <= 1.3, f"time per unit at the top scale is {growth:.2f}× that at "
                     "the smallest: " + ("at most linear" if growth <= 1.3 else "super-linear")))


def _k_verdict(scales: list[tuple[str, Any]]) -> str:
    ok = True
    for _, e in scales:
        ks = (e.get("incremental") or {}).get("k", [])
        req = [x["requests"] for x in ks]
        if req != sorted(req):
            ok = False
    return _verdict(ok, "requests rise with k at every scale" if ok else
                    "requests do not rise with k everywhere")


WHY_1 = """**Why the full sync is above the limit.** The limit is what the simulator serves
plus the least a client must do to receive it (HTTP and reading the body); on this 2-core
machine the simulator alone takes about one core while serving, so every CPU-second the sync
spends beyond the limit client's comes out of the same two cores, and its wall time follows its
CPU. The table above says where that CPU goes: reading every page into Arrow columns (the limit
reads none: the limit incl. parsing shows what that costs on its own), staging every record in
DuckDB, each organization's commit (inserting its rows into the target tables, the feed's net
events for the rows only the feed still has, the WAL write) and the bookkeeping around them
(the engine, the crawl logic and the event loop, the per-organization SQL statements). A sync
that is CPU-bound on this machine does not get faster by reordering work (staging beside
commits, snapshots read a few organizations at a time so that commits start early): only by
spending less CPU. The levers of issue 14, to be measured: one parse per page, a first snapshot
written once (no staging copy), fewer statements per organization commit, parsing and landing
in a second process so that no GIL is shared with the fetch loop.

*From the previous run of this page* (started 2026-11-25 22:46 UTC, commit 53ed870, when the
limit still parsed every page): full sync 5.6 s at scale 100, 15.2 s at 300, 52 s at 1000
(9.6, 27.2 and 104 s the run before), 2.5–3.4× that limit; CPU time per thread measured
in-process at scale 100 (two runs): reading pages 1.1–1.5 s, HTTP and crawl on the event loop
1.3–1.5 s, staging 1.7–2.1 s, commits 2.4–2.8 s, 7.7–9.0 CPU-seconds in the sync process next
to the simulator's ≈1.8. What the session of that run changed:
- Pages are read by Arrow's JSON reader straight into columns (`pipelines/source/arrow_pages.py`),
  with a strict schema derived from the catalogue, in C++ and off the event loop: no Python object
  per record. A page it refuses (unknown field, stray type, entry that is not an object) takes
  the general path, which keeps unknown fields and quarantines bad values.
- Numbers and ISO-8601 times arrive typed in Arrow, so the typed INSERT casts nothing in the
  normal case, and no raw records are looked up when nothing can be quarantined.
- Staging runs on its own DuckDB cursor and thread while the previous organization commits on
  another; one DuckDB pool thread per two cores (a second pool thread on 2 cores cost more than
  it brought, measured in alternating runs).
- An organization's first snapshot inserts straight from staging; commits skip tables with
  nothing staged; checkpoints are left to the end of the sync (`checkpoint_threshold` 1 GB).
- `sniffio` is installed: without it httpcore searched the import path on every request.

It also named what would close the rest: more cores (the page readers, the two DuckDB threads and
the event loop then run beside the simulator instead of taking turns with it); fewer statements
per organization commit (a fixed cost per organization, which gives small scales a worse ratio);
and staging the audit history of small organizations in memory (it is staged in the warehouse
file so that a killed snapshot resumes, which writes it twice: ≈0.4 s of CPU at scale 100).

*Since then* (issue 14, measured before / after in alternating runs of the same pages, median
of 3 at scale 100, of 2 at scale 300, on a loaded machine): at scale 100 the full sync went from
16.2 s, 13.9 CPU-s and 695 MiB peak RSS to 14.1 s, 11.7 CPU-s and 568 MiB. What changed:
- No pandas import: Arrow imports pandas the first time it converts Python objects
  (`pa.array`, `pa.scalar`), which cost every sync process ≈1.2 CPU-s; the sync now builds its
  own arrays from buffers and the JSON reader (`pipelines/warehouse/landing.py`).
- A staged table whose fields all arrived typed in Arrow (the normal case) is inserted by one
  flat SELECT: DuckDB bound the general typed INSERT (three nested SELECTs) in ≈4.6 ms, a fixed
  cost of every table of every staged batch.
- The pages of a batch reach DuckDB as the chunks they were read in (no concatenated copy, no
  filtered copy when no entry is null).
- A first snapshot logs its `record_changes` rows in one statement, and copies a table read from
  its own endpoint without the window that drops duplicate keys when its keys are unique (a
  count on the key alone decides; ≈20 % of that copy at 300k rows).
- Arrow allocates from jemalloc instead of mimalloc, which kept what the page-reading threads
  freed (≈50–70 MiB of peak RSS at scale 300).
Polars was measured as a page reader and not taken: `read_json` with the same schema plus the
conversion to Arrow took 7.4 ms for a 1,000-unit page against Arrow's 6.5 ms, and it reads an
unknown field as nothing instead of refusing the page. Still open, measured: DuckDB spilling
under the sync's memory limit (a 2 GB limit cut CPU at scale 300 from ≈29 to ≈26 s), the
first snapshot's second copy (staging → target, ≈4 CPU-s at scale 300) and the feed's events
for snapshots (≈2.5 CPU-s at scale 300 for a few hundred rows).

*Where the bytes go* (measured while developing, scale 1000, the sync process's
`/proc/self/io`): a full sync wrote about 10 GB for a warehouse file of 1.8–2.0 GB: the
write-ahead log, the data DuckDB spills to `<warehouse>.tmp/` under its memory cap before it is
checkpointed, and the checkpoint itself; system time (copies into the page cache, page
faults) was about a third of the sync's CPU. Measured and not taken: `checkpoint_threshold`
16, 64 or 256 MB instead of 1 GB (as many bytes or more, CPU within noise), and compressing the
in-memory staging database (no change). Taken: the audit feeds' `change` values (whole
records as JSON, ~700 bytes) are zstd-compressed (`zstd_min_string_length` 256; DuckDB weighs
zstd only from 4 KB and stored them uncompressed): the file is about 6× smaller (the
*warehouse file* column) and the sync writes a fifth fewer bytes (8.3 against 10.3 GB, medians),
at the same speed within noise
(alternating runs, 3 each: median wall 62.6 against 61.1 s, CPU 80.6 against 78.6 s). Declaring
zstd on that column alone (`USING COMPRESSION zstd`) measured faster (wall −11 %, CPU −7 %, 2
runs each) but cannot be copied into the serving copy's v1.0 storage format."""

DLT_SETUP = """dlt 1.31 `rest_api` source (`benchmarks/dlt_child.py`), configured as a competent user
would: `page_number` paginator (`base_page` 1, `page_param` page, `total_path` pageCount),
`limit=1000`, `order=<pk>:ASC` (a stable order for offset paging), endpoints `projects` and
`units` over all orgs plus the per-org `audit` feed as a child resource of `organizations`
(`orgUid={resources.organizations.orgUid}`), DuckDB destination,
`write_disposition="merge"` on `warehouseProjectId`, `warehouseUnitId` and audit `id`. dlt
unnests the nested children into its own child tables (`projects__labels`,
`units__labels`, …). *Default loader* = dlt's defaults (insert-values jobs);
*parquet* = `pipeline.run(..., loader_file_format="parquet")`. The incremental variant adds
`incremental: {cursor_path: updatedAt}` with `filter=updatedAt:{incremental.start_value}:gt`
and `order=updatedAt:ASC` — the only change filter CADT v1 has. Each dlt run is a child
process; its wall time is measured inside, its peak RSS (incl. dlt's worker processes)
outside."""

WHY_2_SPEED = """**How the 5× over dlt's parquet loader stands.** The ratio dlt parquet / ours does
not depend on the limit; the limit columns put both on one scale (since the limit parses
nothing, both multiples are larger than in earlier runs of this page, whose limit parsed every
page). dlt's extract, normalize and load steps are CPU work too, and share the 2 cores with the
simulator. At small scales our fixed costs weigh more: 12 organizations, each committed with its
own set of SQL statements whatever its size (see §1's commit and bookkeeping shares), so the
ratio is lower there; closing that takes the levers of §1, fewer statements per organization
first. Repetitions on a shared machine vary by about ±10 % (from previous runs of this page:
4.5× and then 5.0× at scale 100, 3.1× at scale 30)."""

WHY_2 = """**Why dlt's incremental is wrong.** On a CADT node `updatedAt` is the node's *first ingest*
time of a record and is not touched when the record is re-ingested, so `filter=updatedAt:…:gt`
returns new records only: edits and retirements of existing units are invisible to it, and no
`updatedAt` filter can ever see a deletion. dlt's full re-load with merge fixes edits and
retirements but keeps every row deleted at the source (merge never deletes what the source no
longer returns), and costs a full crawl every time. Our sync replays the per-org audit feed,
which carries edits, status changes and DELETEs, and re-reads exactly the changed records.
dlt's incremental time includes a full re-read of the audit feed, which CADT cannot filter;
a dlt user who drops the audit resource saves that time but then has no deletions at all."""

WHY_3 = """The no-change sync costs two requests at every scale: `/v1/organizations` with
`If-None-Match` (304) and the pick list; its time is opening the warehouse and bookkeeping,
independent of the mirror's size. With k changed units the sync reads the new audit rows
(k/1000 pages) and re-reads the changed units by key (k/100 requests of
`filter=warehouseUnitId:[…]:in`), so requests grow with k, not with the mirror. The merge
compares only the staged keys with the target, but deleting replaced rows still scans each
target table once (DuckDB scans 1M rows in a few ms; the audit table is the largest), so a small
incremental costs slightly more on a large mirror. After a sync that changed something, the
read-only serving copy for BI tools is refreshed (`publish`: a checkpoint and one sequential copy
of the warehouse file, so proportional to the mirror's size, not to k); it can be turned off
with `SyncSettings(publish=False)` when no BI tool reads the serving copy."""

WHY_5 = """**Memory.** Python holds a bounded number of pages: a queue of 8, and at most 16 pages
waiting to be staged across all streams, ≈1.5 MB each as Arrow columns (≈8 MB for a page that
takes the general path as Python objects), plus 16 bytes per audit row for the feed checks.
DuckDB is capped by `memory_limit` (256 MB by default, `CADT_MIRROR_MEMORY_LIMIT`) and spills the
staged rows of a large snapshot to `<warehouse>.tmp/`; the process peak follows the cap, about
350 MiB plus the cap at scale 1000. Measured A/B on one machine while developing (full syncs at
scale 1000, alternating): 320 MB peaked at 640–664 MiB in four syncs, 256 MB at 588–610 MiB in
four, 224 MB at 550 MiB in two; wall and CPU time differed by less than the runs varied (256 MB:
+2 % CPU on average, spread ±8 %). The bound of 640 MiB at scale 1000 was within what the
machine varies by with 320 MB (615–674 MiB over the earlier runs of this page), so the default
is 256 MB since commit a92d418 (320 MB from commit 9560f79, 384 MB before; at scale 300
a 256 MB cap had cost about 9 % more CPU when that was measured, against a slower sync). Before
the cap DuckDB kept everything it touched (its default is 80 % of RAM), which made the peak grow
with the source (4.9 GB at scale 1000 in the first run of this page)."""

WHY_6 = """The server spends a few ms of CPU per 1.5 MB page (pre-serialized row bytes joined per
page, weak ETag = SHA-1 of the body, uvicorn with uvloop + httptools), so a client that does not
parse gets pages from it as fast as the *raw* columns show. A client that parses each page spends
about as much CPU on it as the server (measured in an earlier session, for 1,000 units: orjson
into Python objects ≈2.5 ms, Arrow's JSON reader into columns ≈4 ms), and on 2 cores the client
and the server share the machine: that is why §1 gives the limit (no parsing) and the limit incl.
parsing side by side. An earlier note (47 pages/s at scale 1000) measured four client *processes*
competing with the server for the two cores. No change to the simulator's serving path was
needed (measured in an earlier session before deciding: the handler itself builds a 1000-unit
page in ≈3.3 ms and a 1000-row audit page in ≈2 ms)."""

MISSING = """- dlt at scales above 100 (its default loader takes minutes there; the trend is in §2), and
  dlt with `parallelized: true` resources.
- Marts figures depend on the dbt project as it is at the measured commit. A refresh that has
  something to do has a floor: dbt's start-up (about 5 s here) and its per-node work over the
  nodes downstream of the raw tables the syncs wrote (80 of 212 for a units change: the units,
  the audit and the organization's row move together), whatever k is. The aggregate marts are
  still rebuilt whole over the incremental models (0.5–1.5 s each at 1M units). Measured by
  hand on one k = 1,000 refresh at 1M units (dbt's log and run_results.json): of that
  start-up, importing dbt takes 2.7 s and the adapter, the partial-parse check and writing
  manifest.json 1.5 s; of the nodes' work, 11 s of SQL in `create table` statements out of
  16 s, on two dbt threads that each run a two-thread DuckDB query (`--threads 1` took as
  long). The serial rule of `mart_double_counting_candidates` joined every two unit blocks of
  a serial prefix (1.0 s); it now joins only the blocks a sort finds overlapping (0.4 s),
  which took the refresh's dbt time from 12.4–13.2 s to 10.1–10.9 s.
- The first build is the figure that varies most between runs: 58.2 s in the run of commit
  5ac0e89, 65.9 s in the run of 71a6b86. Rerun by hand on this run's machine, each on a fresh
  full sync at scale 1000, it took 47.6 and 52.7 s with the code before 71a6b86 and 46.8 and
  48.8 s with it (alternating).
- A section measured by its own run (§4, §7, §8 name theirs) can be newer than the rest of the
  page: check the commits before comparing across sections.
- The correctness table compares units only (projects and child tables are covered by the
  exactness tests in `tests/mirror/`).
- Benchmarks on a machine with more cores (the ratios in §1 are 2-core figures; the DuckDB
  landing thread would no longer share a core with the simulator). There, DuckDB also runs work
  on its own pool threads, which §1's stage timers (thread CPU time of the calling thread) count
  as bookkeeping.
- The stage breakdown times the stage functions only; the event loop's socket work for fetching
  is part of bookkeeping (its event-loop share is given)."""


def write_report(results: dict[str, Any], out: Path,
                 compare: dict[str, Any] | None = None) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results, compare))


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("results", nargs="?", type=Path,
                    default=ROOT / "benchmarks" / "results" / "latest.json")
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "docs" / "benchmarks.md")
    ap.add_argument("--compare", type=Path, metavar="OLD.json",
                    help="an older run's results: §1's CPU breakdown shows it as *before*")
    a = ap.parse_args(argv)
    old = json.loads(a.compare.read_text()) if a.compare else None
    write_report(json.loads(a.results.read_text()), a.out, old)
    print(f"wrote {a.out}")



def node_limits_section(n: dict[str, Any] | None) -> list[str]:
    """§7: requests and time against the strict simulator, with and without its rate limiter
    (`python -m benchmarks.node_limits`, its own run)."""
    if not n:
        return []
    out = ["## 7. Against a strict, rate-limited node", ""]
    w = out.append
    w(f"Measured by `python -m benchmarks.node_limits --scale {n['scale']:g}` (its own run, "
      f"started {n.get('started', '?')}, commit {n.get('commit', '?')}), against the simulator "
      "with every request limit of the real server (a request a real node refuses, it refuses "
      "too). *Budget* is the request budget of the README: audit pages + ceil(n/1000) + "
      "min(ceil(k/200), pages of that table) + 3 (organizations, pick lists, the since-read's boundary page), where edits whose feed values are provably "
      "the node's rows cost nothing. The rate limiter is scaled down so that a run takes seconds: "
      "its allowance per window is a sixth of the full sync's requests (the limit, not the sync's own work, sets the pace), so a perfectly paced "
      "client needs requests ÷ allowed rate.")
    if n.get("full_sync_rerun"):
        w("")
        w(f"(The two full-sync rows were measured again at {n['full_sync_rerun']} with the "
          "allowance above; the k rows are from the first run, whose allowance was a third.)")
    w("")
    w("| node | work | requests | budget | by route | time | 429s | other 4xx |")
    w("|---|---|---|---|---|---|---|---|")
    for e in n["modes"].values():
        lim = e.get("limit")
        label = (f"rate-limited ({lim['requests']} / {lim['window_s']:g} s)" if lim
                 else "no rate limit")
        f = e["full"]
        paced = (f" (requests ÷ rate {f['paced_ideal_s']:.1f} s: "
                 f"{f['seconds'] / f['paced_ideal_s']:.2f}×)" if f.get("paced_ideal_s") else "")
        w(f"| {label} | full sync | {f['requests']} | – | {_routes(f)} | "
          f"{f['seconds']:.2f} s{paced} | {f['rate_limited']} | {f['other_4xx']} |")
        for key, k in e["k"].items():
            count, kind = key.split("/")
            w(f"| {label} | k = {int(count):,} {kind} units | {k['requests']} | {k['budget']} | "
              f"{_routes(k)} | {k['seconds']:.2f} s | {k['rate_limited']} | {k['other_4xx']} |")
    w("")
    total_429 = sum(x["rate_limited"] for e in n["modes"].values()
                    for x in [e["full"], *e["k"].values()])
    over = [f"{mode} {key}" for mode, e in n["modes"].items() for key, k in e["k"].items()
            if k["requests"] > k["budget"]]
    w(f"429s seen in all runs: **{total_429}** (target 0). Runs over budget: "
      + (", ".join(over) if over else "none") + ".")
    w("")
    return out


def v2_section(v: dict[str, Any] | None) -> list[str]:
    """§8: data model v2, full and incremental (`python -m benchmarks.v2_sync`, its own run)."""
    if not v:
        return []
    out = ["## 8. Data model v2: full and incremental", ""]
    w = out.append
    full = v["full"]
    units = full["rows"].get("unit", 0)
    w(f"Measured by `python -m benchmarks.v2_sync --scale {v['scale']:g}` (its own run, started "
      f"{v.get('started', '?')}, commit {v.get('commit', '?')}), against `cadt-sim serve --v2 "
      "on`: every v2 table of the node (one schema, all organizations), read node-wide on the "
      "first sync, then replayed from the moved organizations' feeds. *Reads* says what each "
      "table needed: `targeted` (by key, one record a request on routes without `filter`, or "
      "by `updated_at` for new project/unit records), `whole` (the table again: cheaper than "
      "the keys, or its count differed after DELETE rows that name no record), `count "
      "checked` (one `limit=1` request).")
    w("")
    w("| work | requests | time | reads | mode |")
    w("|---|---|---|---|---|")
    rows = sum(full["rows"].values())
    w(f"| full sync ({rows:,} rows, {units:,} units) | {full['requests']} | "
      f"{full['seconds']:.2f} s | – | {full['mode']} |")
    nc = v["no_change"]
    w(f"| no change | {nc['requests']} | {nc['seconds']:.2f} s | – | {nc['mode']} |")
    for key, r in v["k"].items():
        n, label = key.split("/", 1)
        reads = "; ".join(f"{t}: {s}" for t, s in r["reads"].items()) or "–"
        w(f"| {int(n):,} {label} | {r['requests']} | {r['seconds']:.2f} s | {reads} | "
          f"{r['mode']} |")
    w("")
    return out


def _routes(run: dict[str, Any]) -> str:
    short = {"/v1/organizations": "orgs", "/v1/governance/meta/pickList": "picklists",
             "/v1/audit": "audit", "/v1/projects": "projects", "/v1/units": "units"}
    return ", ".join(f"{short.get(p, p)} {n}" for p, n in run.get("by_route", {}).items())


if __name__ == "__main__":
    main()
