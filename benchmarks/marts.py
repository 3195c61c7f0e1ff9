"""§4: the marts. `cadt-mirror build` on the mirror of §1/§3: a first build, refreshes after
syncs that changed k units, a build with nothing new, and a full rebuild (issue 14, item 3).

Each build is what `cadt-mirror build` runs (`pipelines.dbt_build.run_build`: dbt in a child
process, its start-up included, and the build's record in the warehouse), timed by wall clock,
without the serving-copy refresh that `cadt-mirror build` does next (§3 times that). dbt's own
elapsed time (its run_results.json: without the Python start-up and the project parse) is kept
beside it. The dbt target directory is one per warehouse, kept between its builds, so that dbt
parses the project partially, as it does for a user. What each build did to the incremental
models is read back from the warehouse's own bookkeeping (`cadt_build.model_refreshes`: one row
per model a build refreshed, 'full' or 'incremental', with the rows it wrote), so a refresh that
quietly fell back to a full rebuild shows in the table.

    python -m benchmarks.marts [--scale 1000] [--warehouse SYNCED.duckdb]   # §4 by itself

(run_all also measures it at its top scale; a run of this module takes precedence in the report).
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from cadt_sim import AdminClient

from .common import log, verdict

# (activity kind, label, k): the changes a refresh is measured after
WORK = (("edit_units", "edited units", 10), ("edit_units", "edited units", 1000),
        ("retire", "retired units", 1000))
FULL_BUILD_TARGET_S = 20.0  # issue 14: a full build at 1M units
REFRESH_TARGET_S = 5.0  # issue 14: a k = 1,000 refresh at 1M units
OLD_BUILD_TARGET_S = 60.0  # issue 5: `dbt build` at the top scale


def build(database: Path, *args: str) -> dict[str, Any]:
    """One build as `cadt-mirror build` runs it, less the serving-copy refresh that follows
    (§3 times that): wall time, dbt's elapsed time, exit code, what it refreshed."""
    from rich.console import Console

    from pipelines.dbt_build import check_synced, dbt_build_args, run_build

    since = _last_refresh(database)
    target = database.with_name(database.stem + "-dbt-target")
    results = target / "run_results.json"
    results.unlink(missing_ok=True)
    t0 = time.perf_counter()
    outcome = run_build(database, dbt_build_args(extra=[*args, "--target-path", str(target)]),
                        Console(quiet=True), gens=check_synced(database))
    seconds = time.perf_counter() - t0
    dbt_s = json.loads(results.read_text())["elapsed_time"] if results.exists() else None
    return {"seconds": seconds, "dbt_seconds": dbt_s, "exit_code": outcome.code,
            "summary": outcome.summary, "refreshed": _refreshed(database, since),
            "dbt_skipped": outcome.skipped is not None}


def run(sim_api: str, admin: AdminClient, database: Path, org: str) -> dict[str, Any]:
    """The builds of §4, in order, on `database` (already synced from `sim_api`)."""
    from .measure import incremental_sync

    res: dict[str, Any] = {"first": build(database)}
    log(f"    first build: {_line(res['first'])}")
    res["no_change"] = build(database)
    log(f"    nothing new: {_line(res['no_change'])}")
    res["k"] = []
    for kind, label, k in WORK:
        act = admin.activity(kind, k, org)
        sync = incremental_sync(sim_api, database)
        r = build(database)
        r.update({"kind": kind, "label": label, "k": k, "changed": act.get("changed", {}),
                  "sync_seconds": sync["seconds"]})
        res["k"].append(r)
        log(f"    k={k:,} {label}: {_line(r)}")
    res["full_refresh"] = build(database, "--full-refresh")
    log(f"    full rebuild (--full-refresh): {_line(res['full_refresh'])}")
    return res


def _line(r: dict[str, Any]) -> str:
    ref = r["refreshed"]
    return (f"{r['seconds']:.1f} s (dbt {_dbt_time(r)}), exit {r['exit_code']}, models: {ref['incremental']} "
            f"incremental / {ref['full']} full, {ref['rows']:,} rows written")


def _last_refresh(database: Path) -> Any:
    rows = _query(database, "SELECT max(refreshed_at) FROM cadt_build.model_refreshes")
    return rows[0][0] if rows else None


def _refreshed(database: Path, since: Any) -> dict[str, int]:
    """The incremental models the build refreshed, by kind, and the rows they wrote."""
    where = "" if since is None else "WHERE refreshed_at > ?"
    rows = _query(database, "SELECT count(*) FILTER (refresh = 'incremental'), "
                  "count(*) FILTER (refresh = 'full'), coalesce(sum(rows), 0) "
                  f"FROM cadt_build.model_refreshes {where}", [] if since is None else [since])
    inc, full, n = rows[0] if rows else (0, 0, 0)
    return {"incremental": inc, "full": full, "rows": int(n)}


def _query(database: Path, sql: str, params: list[Any] | None = None) -> list[tuple]:
    """`sql` on the warehouse, read-only; no rows when the bookkeeping does not exist yet."""
    import duckdb

    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    except duckdb.CatalogException:
        return []
    finally:
        con.close()


def _runs(results: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(scale, builds) measured: by this benchmark's own run (key `marts`), else by run_all's
    scales."""
    own = results.get("marts")
    if own:
        return [(f"{own['scale']:g}", own["runs"])]
    return [(k, e["marts"]) for k, e in results.get("scales", {}).items() if e.get("marts")]


def summary_rows(results: dict[str, Any]) -> list[str]:
    """The Summary's §4 lines: the targets at the top scale."""
    runs = _runs(results)
    if not runs:
        return ["| 4 | marts: full build ≤ 20 s, k = 1,000 refresh ≤ 5 s at the top scale | "
                "not run | not measured |"]
    k, m = runs[-1]
    ok = all(r["exit_code"] == 0 for r in _all(m))
    first, full = m["first"], m["full_refresh"]
    refresh = max((r for r in m["k"] if r["k"] == 1000), key=lambda r: r["seconds"], default=None)
    rows = [
        f"| 4 | first `cadt-mirror build` ≤ {OLD_BUILD_TARGET_S:.0f} s at the top scale (issue 5) "
        f"| scale {k}: {first['seconds']:.1f} s | "
        + _verdict(ok and first["seconds"] <= OLD_BUILD_TARGET_S, first["seconds"],
                   OLD_BUILD_TARGET_S) + " |",
        f"| 4 | full rebuild (`--full-refresh`) ≤ {FULL_BUILD_TARGET_S:.0f} s at the top scale "
        f"| scale {k}: {full['seconds']:.1f} s | "
        + _verdict(ok and full["seconds"] <= FULL_BUILD_TARGET_S, full["seconds"],
                   FULL_BUILD_TARGET_S) + " |",
    ]
    if refresh is not None:
        rows.append(
            f"| 4 | refresh after k = 1,000 changed units ≤ {REFRESH_TARGET_S:.0f} s at the top "
            f"scale (slowest kind) | scale {k}: {refresh['seconds']:.1f} s "
            f"({refresh['label']}) | "
            + _verdict(ok and refresh["seconds"] <= REFRESH_TARGET_S, refresh["seconds"],
                       REFRESH_TARGET_S) + " |")
    return rows


def _verdict(ok: bool, measured: float, target: float) -> str:
    return verdict(ok, f"{measured / target:.2f}× the budget")


def _dbt_time(r: dict[str, Any]) -> str:
    if r.get("dbt_skipped"):
        return "not run (marts current)"
    return "–" if r.get("dbt_seconds") is None else f"{r['dbt_seconds']:.1f} s"


def _all(m: dict[str, Any]) -> list[dict[str, Any]]:
    return [m["first"], m["no_change"], *m["k"], m["full_refresh"]]


def section(results: dict[str, Any]) -> list[str]:
    """§4 of docs/benchmarks.md."""
    out = ["## 4. Marts: `cadt-mirror build`", ""]
    w = out.append
    own = results.get("marts")
    if own:
        w(f"Measured by `python -m benchmarks.marts --scale {own['scale']:g}` (its own run, "
          f"started {own.get('started', '?')}, commit {own.get('commit', '?')}; the mirror: "
          f"{own.get('mirror', '?')}).")
        w("")
    w(("On that mirror" if own else "On the mirror of §1/§3, at the top scale")
      + ", in this order: the first build (no marts yet: "
      "every model from scratch, every test), a build with nothing new, then for each kind of "
      "change the activity on the largest organization, an incremental sync and a build "
      "(incremental models take in only what the sync changed; the lighter test selection "
      "`incremental_refresh`), and last a full rebuild (`--full-refresh`, every test). Wall "
      "time of the build as `cadt-mirror build` runs it (`run_build`: dbt in a child process, "
      "its start-up included), without the serving-copy refresh that follows it (§3). *Models* is what "
      "the build did to the incremental models (`cadt_build.model_refreshes`): how many "
      "refreshed incrementally / in full, and the rows they wrote. That a refresh gives the "
      "same marts as a full rebuild is proved by `tests/dbt/test_incremental_marts.py`, not "
      "here. A refresh builds only the nodes downstream of the raw tables the syncs wrote to; "
      "with nothing new since the last build (no sync wrote a raw table, the same dbt "
      "project and arguments: `cadt_mirror.marts_builds`), `cadt-mirror build` runs no dbt. "
      "*dbt* is dbt's own elapsed time (`run_results.json`): the wall time less dbt's "
      "Python start-up (several seconds on this machine, whatever the build does) and the "
      "project parse.")
    w("")
    w("| scale | build | time | dbt | exit | models: incremental / full | rows written |")
    w("|---|---|---|---|---|---|---|")
    for k, m in _runs(results):
        named = [("first build", m["first"]), ("nothing new", m["no_change"]),
                 *((f"k = {r['k']:,} {r['label']}", r) for r in m["k"]),
                 ("full rebuild", m["full_refresh"])]
        for name, r in named:
            ref = r["refreshed"]
            w(f"| {k} | {name} | {r['seconds']:.1f} s | {_dbt_time(r)} | {r['exit_code']} | "
              f"{ref['incremental']} / {ref['full']} | {ref['rows']:,} |")
    w("")
    return out


def standalone(scale: float, warehouse: Path | None = None) -> dict[str, Any]:
    """§4 by itself: a simulator at `scale` (seed 1), its mirror (a full sync, or a copy of
    `warehouse`: a mirror already synced from that simulator and never built), the builds."""
    from .common import simulator, tempdir
    from .measure import incremental_sync, largest_org
    from .node_limits import _commit

    out: dict[str, Any] = {"scale": scale, "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
                           "commit": _commit()}
    with simulator(scale) as sim, tempdir() as work:
        admin = AdminClient(sim.url)
        db = work / "mirror.duckdb"
        if warehouse is not None:
            shutil.copyfile(warehouse, db)
            _mirrors(db, sim.api)
            out["mirror"] = f"a copy of a mirror synced from the same simulator ({warehouse.name})"
        else:
            out["mirror"] = f"a full sync, {incremental_sync(sim.api, db)['seconds']:.1f} s"
        log(f"== marts at scale {scale:g} ({out['mirror']})")
        out["runs"] = run(sim.api, admin, db, largest_org(admin))
    return out


def _mirrors(database: Path, api: str) -> None:
    """The copy mirrors this simulator: the same seed and scale serve the same data as the one
    it was synced from, on another port (the sync refuses a node other than the recorded one)."""
    import duckdb

    from pipelines.warehouse.state import NODE, node_root

    con = duckdb.connect(str(database))
    try:
        con.execute(f"UPDATE {NODE} SET api_url = ?", [node_root(api)])
    finally:
        con.close()


def main(argv: list[str] | None = None) -> None:
    from .common import ROOT
    from .node_limits import save_section

    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scale", type=float, default=1000)
    ap.add_argument("--warehouse", type=Path,
                    help="start from a copy of this mirror (synced from `cadt-sim serve "
                         "--scale SCALE --seed 1`, never built) instead of a full sync")
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "benchmarks.md")
    a = ap.parse_args(argv)
    save_section("marts", standalone(a.scale, a.warehouse), a.out)


if __name__ == "__main__":
    main()
