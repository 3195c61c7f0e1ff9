"""Render the raw results (benchmarks/results/*.json) as docs/benchmarks.md.

    python -m benchmarks.report [benchmarks/results/latest.json] [docs/benchmarks.md]
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def _med(xs: list[float]) -> float | None:
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def _f(x: float | None, fmt: str = ".2f", unit: str = "") -> str:
    return "–" if x is None else f"{x:{fmt}}{unit}"


def _verdict(ok: bool | None, detail: str = "") -> str:
    if ok is None:
        return "not measured"
    return ("**pass**" if ok else "**miss**") + (f" ({detail})" if detail else "")


def _scale_sort(d: dict[str, Any]) -> list[tuple[str, Any]]:
    return sorted(d.items(), key=lambda kv: float(kv[0]))


def render(r: dict[str, Any]) -> str:
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
    ratios = [(k, e.get("ratio")) for k, e in scales if e.get("ratio")]
    if ratios:
        worst = max(x for _, x in ratios)
        w("| 1 | full sync ≤ 1.25 × the limit at every scale | "
          + ", ".join(f"scale {k}: {x:.2f}×" for k, x in ratios) + " | "
          + _verdict(worst <= 1.25, f"worst {worst:.2f}×, {worst / 1.25:.1f}× over the target")
          + " |")
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
    dbts = [(k, e.get("dbt")) for k, e in scales if e.get("dbt")]
    if dbts:
        k, top = dbts[-1]
        if "seconds" in top:
            w(f"| 4 | `dbt build` ≤ 60 s at the top scale (2 cores) | scale {k}: "
              f"{top['seconds']:.1f} s (exit {top['exit_code']}) | "
              + _verdict(top["seconds"] <= 60 and top["exit_code"] == 0,
                         f"{top['seconds'] / 60:.2f}× the budget") + " |")
        else:
            w(f"| 4 | `dbt build` ≤ 60 s | TODO: {top.get('todo')} | not measured |")
    else:
        w("| 4 | `dbt build` ≤ 60 s at the top scale | not run | not measured |")
    if scales:
        k, top = scales[-1]
        rss = max((x.get("peak_rss_mb", 0) for x in top.get("full_sync", [])), default=None)
        w(f"| 5 | full-sync peak RSS ≤ 1 GB at the top scale | scale {k}: {_f(rss, '.0f')} MiB"
          f" | " + _verdict(None if rss is None else rss <= 1024,
                           None if rss is None else f"{rss / 1024:.2f} GiB") + " |")
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
    w(".venv/bin/pytest tests/bench -q                                   # CI smoke test")
    w("```")
    w("")
    w("Scripts: `benchmarks/limit.py` (the bare client), `benchmarks/sync_child.py` (one sync "
      "in a child process; peak RSS of the process tree sampled every 50 ms and the kernel's "
      "`ru_maxrss`, whichever is larger), `benchmarks/dlt_child.py` (dlt's `rest_api` "
      "configuration), `benchmarks/measure.py`, `benchmarks/run_all.py`.")
    w("")

    # ---- 1 ----------------------------------------------------------------------------------
    w("## 1. Full sync vs the limit")
    w("")
    w("*The limit* (`benchmarks/limit.py`) is a bare client built from the sync's own crawl "
      "functions (`crawl_audit`, `crawl_keyset` with a sink that drops each body) and "
      "`CadtClient`, with the same concurrency (4) and the same order (per org the audit "
      "history, then projects and units together; all orgs at once, where the sync reads "
      "four snapshots at a time so that commits start early: both keep 4 requests in flight). "
      "It fetches exactly the "
      "pages the full sync fetches — the simulator's request statistics of both are in the "
      "table below, and `tests/bench` asserts they match (the sync adds only its post-snapshot "
      "count check: one "
      "second `/v1/organizations` and one `limit=1` request per org for projects and units). "
      "Both read each page with the same strict Arrow reader (the keyset needs the last key, the "
      "audit checks need ids and generations). Full syncs run in a child "
      "process into a fresh DuckDB file; limit and sync repetitions are interleaved.")
    w("")
    w("| scale | projects | units | audit rows | orgs | reps | limit (median) | full sync (median) "
      "| ratio | sync MiB/s | peak RSS |")
    w("|---|---|---|---|---|---|---|---|---|---|---|")
    for k, e in scales:
        si = e.get("sim_info", {})
        lim = _med([x["seconds"] for x in e.get("limit", [])])
        syn = _med([x["seconds"] for x in e.get("full_sync", [])])
        mb = e["full_sync"][0]["bytes"] / 2**20 if e.get("full_sync") else None
        rss = max((x.get("peak_rss_mb", 0) for x in e.get("full_sync", [])), default=None)
        w(f"| {k} | {si.get('projects', '?'):,} | {si.get('units', '?'):,} | "
          f"{si.get('audit', '?'):,} | {si.get('orgs', '?')} | {len(e.get('full_sync', []))} | "
          f"{_f(lim)} s | {_f(syn)} s | {_f(e.get('ratio'))}× | "
          f"{_f(mb / syn if mb and syn else None, '.1f')} | {_f(rss, '.0f')} MiB |")
    w("")
    w("Requests by route (limit / full sync):")
    w("")
    w("| scale | " + " | ".join(_ROUTES) + " |")
    w("|---|" + "---|" * len(_ROUTES))
    for k, e in scales:
        a, b = e.get("limit_by_route", {}), e.get("sync_by_route", {})
        w(f"| {k} | " + " | ".join(f"{a.get(x, 0)} / {b.get(x, 0)}" for x in _ROUTES) + " |")
    w("")
    w("All repetitions (seconds): " + "; ".join(
        f"scale {k}: limit {[round(x['seconds'], 2) for x in e.get('limit', [])]}, sync "
        f"{[round(x['seconds'], 2) for x in e.get('full_sync', [])]}" for k, e in scales) + ".")
    w("")
    w(WHY_1)
    w("")

    # ---- 2 ----------------------------------------------------------------------------------
    w("## 2. Against dlt's `rest_api` source")
    w("")
    w(DLT_SETUP)
    w("")
    w("| scale | limit | ours: full sync | dlt default loader | dlt parquet loader | dlt parquet / "
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
    w("## 4. Marts: `dbt build`")
    w("")
    w("`pipelines.transform.run_dbt(['build'], mirror)` on the mirror of §1/§3 (all models and "
      "tests), wall time including dbt's start-up.")
    w("")
    w("| scale | wall time | exit code |")
    w("|---|---|---|")
    for k, e in scales:
        d = e.get("dbt")
        if d is None:
            w(f"| {k} | not run | – |")
        elif "seconds" in d:
            w(f"| {k} | {d['seconds']:.1f} s | {d['exit_code']} |")
        else:
            w(f"| {k} | TODO: {d.get('todo')} | – |")
    w("")

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
    w("## What is missing")
    w("")
    w(MISSING)
    w("")
    return "\n".join(out)


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


WHY_1 = """**Why the full sync misses 1.25×.** The limit is the simulator's serving speed plus
reading each page with the same Arrow reader the sync uses, and on this 2-core machine the
simulator alone takes about one core while serving. Everything the sync adds is CPU on the same
two cores: staging every record in DuckDB, each organization's commit (inserting its rows into
the target tables, the feed's net events for the rows only the feed still has, the WAL write)
and per-organization bookkeeping (≈50 SQL statements per commit). Measured in-process at scale
100 on the final code (CPU time per thread, two runs): reading pages 1.1–1.5 s, HTTP and crawl
on the event loop 1.3–1.5 s, staging 1.7–2.1 s, commits 2.4–2.8 s; 7.7–9.0 CPU-seconds in the
sync process next to the simulator's ≈1.8, far more than two cores give in the limit's time. The sync is CPU-bound here:
reordering work (staging beside commits, snapshots read a few organizations at a time so that
commits start early) no longer changes its wall time on this machine; only less CPU does.

Applied in the session of this run (times of the previous run of this page → this one, same
machine): 9.6 → 5.6 s at scale 100, 27.2 → 15.2 s at 300, 104 → 52 s at 1000.
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

The limit got faster too (2.11 → 1.6 s at scale 100), because it reads pages the way the sync now
does; the ratio therefore improves less than the times. What would close the rest: more cores
(the page readers, the two DuckDB threads and the event loop then run beside the simulator
instead of taking turns with it); fewer statements per organization commit (the fixed cost per
organization, which is why scale 100 has a worse ratio than 300); and staging the audit history
of small organizations in memory (it is staged in the warehouse file so that a killed snapshot
resumes, which writes it twice: ≈0.4 s of CPU at scale 100)."""

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

WHY_2_SPEED = """**5× over dlt's parquet loader: reached at scale 100, not at 30.** dlt's parquet
loader takes 14–17× the limit here (the issue's reference machine saw ≈7×: dlt's extract,
normalize and load steps are CPU work too, and share the 2 cores with the simulator), our full
sync 3.4× the limit at scale 100: 5.0× faster, on the edge (repetitions on this shared machine
vary by ±10 %; the previous run of this page had 4.5×). At scale 30 our fixed costs weigh more (12
organizations, each committed with ≈50 SQL statements whatever its size; 4.6× the limit): 3.1×
faster than dlt. Closing that takes the levers of §1, fewer statements per organization first."""

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
DuckDB is capped by `memory_limit` (384 MB by default, `CADT_MIRROR_MEMORY_LIMIT`) and spills the
staged rows of a large snapshot to `<warehouse>.tmp/`; before the cap DuckDB kept everything it
touched (its default is 80 % of RAM), which made the peak grow with the source (4.9 GB at scale
1000 in the first run of this page)."""

WHY_6 = """The server spends a few ms of CPU per 1.5 MB page (pre-serialized row bytes joined per
page, weak ETag = SHA-1 of the body, uvicorn with uvloop + httptools), so a client that does not
parse gets well over 100 pages/s from it at every scale. A client that parses each page spends
about as much CPU on it as the server (orjson into Python objects ≈2.5 ms, Arrow's JSON reader into
columns ≈4 ms, for 1,000 units), and on 2 cores the client and the server share the machine. So
the limit measured in §1 is the source plus the unavoidable parse, not an artefact of a slow
simulator. An earlier note (47
pages/s at scale 1000) measured four client *processes* competing with the server for the two
cores. No change to the simulator's serving path was needed (measured before deciding: the
handler itself builds a 1000-unit page in ≈3.3 ms and a 1000-row audit page in ≈2 ms)."""

MISSING = """- dlt at scales above 100 (its default loader takes minutes there; the trend is in §2), and
  dlt with `parallelized: true` resources.
- Marts figures depend on the dbt project as it is at the measured commit.
- The correctness table compares units only (projects and child tables are covered by the
  exactness tests in `tests/mirror/`).
- Benchmarks on a machine with more cores (the ratios in §1 are 2-core figures; the DuckDB
  landing thread would no longer share a core with the simulator)."""


def write_report(results: dict[str, Any], out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render(results))


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    src = Path(args[0]) if args else ROOT / "benchmarks" / "results" / "latest.json"
    dst = Path(args[1]) if len(args) > 1 else ROOT / "docs" / "benchmarks.md"
    write_report(json.loads(src.read_text()), dst)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
