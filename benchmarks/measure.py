"""The individual measurements; `run_all` strings them together and writes the report."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import duckdb

from cadt_sim import AdminClient
from pipelines.source.catalog import snake_case

from .common import VENV_BIN, log, median, run_child
from .limit import LimitReport, record_crawl, replay, url_digest

PY = str(VENV_BIN / "python")
# columns every mirror must get right after edits, retirements and deletions
UNIT_COLUMNS = ("unitStatus", "unitStatusReason", "unitOwner", "correspondingAdjustmentStatus",
                "unitCount", "serialNumberBlock", "vintageYear")


# ---- simulator throughput ------------------------------------------------------------------

def sim_throughput(api: str, admin: AdminClient, pid: int) -> dict[str, Any]:
    """Pages/s the simulator serves for 1000-unit keyset pages of its largest org.

    First a keyset crawl with one client that parses every page (as any real client must, to
    find the next key); then the same URLs replayed without parsing by 1 and 4 concurrent
    clients, which shows what the server alone can deliver. The server's own CPU time per
    page is taken from its process.
    """
    import asyncio

    import httpx
    import orjson
    import psutil

    orgs = admin.info()["orgs"]
    org = max(orgs, key=lambda u: orgs[u]["audit"])
    base = api.rstrip("/") + "/units"
    server = psutil.Process(pid)

    def cpu() -> float:
        t = server.cpu_times()
        return t.user + t.system

    async def crawl() -> list[str]:
        urls, after = [], None
        async with httpx.AsyncClient(timeout=120) as c:
            while True:
                q = f"?page=1&limit=1000&orgUid={org}&order=warehouseUnitId:ASC"
                url = base + q + (f"&filter=warehouseUnitId:{after}:gt" if after else "")
                data = orjson.loads((await c.get(url)).content)["data"]
                urls.append(url)
                if len(data) < 1000:
                    return urls
                after = data[-1]["warehouseUnitId"]

    async def replay(urls: list[str], conc: int) -> None:
        sem = asyncio.Semaphore(conc)
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=conc)) as c:
            async def one(u: str) -> None:
                async with sem:
                    await c.get(u)
            await asyncio.gather(*(one(u) for u in urls))

    out: dict[str, Any] = {}
    c0, t0 = cpu(), time.perf_counter()
    urls = asyncio.run(crawl())
    dt = time.perf_counter() - t0
    out["parsing, 1 client"] = {"pages": len(urls), "pages_per_s": len(urls) / dt,
                                "server_cpu_ms_per_page": (cpu() - c0) / len(urls) * 1000}
    for conc in (1, 4):
        c0, t0 = cpu(), time.perf_counter()
        asyncio.run(replay(urls, conc))
        dt = time.perf_counter() - t0
        out[f"raw, {conc} client{'s' if conc > 1 else ''}"] = {
            "pages": len(urls), "pages_per_s": len(urls) / dt,
            "server_cpu_ms_per_page": (cpu() - c0) / len(urls) * 1000}
    return out


# ---- full sync vs the limit ----------------------------------------------------------------

def record(api: str) -> LimitReport:
    """One parse-including crawl: warms the simulator up and records the URLs of the limit."""
    r = record_crawl(api)
    log(f"    recorded crawl: {r.seconds:.2f} s, {r.requests} requests "
        f"({url_digest(r.urls)})")
    return r


def crawl_runs(api: str, reps: int, urls: list[str]) -> list[dict[str, Any]]:
    """The limit incl. parsing: the recording crawl again (same URLs expected)."""
    out = []
    for i in range(reps):
        r = record_crawl(api)
        out.append({"seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "requests": r.requests,
                    "bytes": r.bytes, "by_path": r.by_path, "records": r.records,
                    "same_urls": sorted(r.urls) == sorted(urls)})
        log(f"    limit incl. parsing #{i + 1}: {r.seconds:.2f} s, CPU {r.cpu_seconds:.2f} s, "
            f"{r.requests} requests")
    return out


def limit_runs(api: str, reps: int, urls: list[str]) -> list[dict[str, Any]]:
    """The limit: the recorded URLs replayed, bodies read and dropped."""
    out = []
    for i in range(reps):
        r = replay(api, urls)
        out.append({"seconds": r.seconds, "cpu_seconds": r.cpu_seconds, "requests": r.requests,
                    "bytes": r.bytes, "by_path": r.by_path, "bad_status": r.bad_status,
                    "urls_match": sorted(r.fetched) == sorted(urls)})
        log(f"    limit #{i + 1}: {r.seconds:.2f} s, CPU {r.cpu_seconds:.2f} s, "
            f"{r.requests} requests, {r.bytes / 2**20:.0f} MiB")
    return out


def full_sync(api: str, database: Path, stages: bool = False) -> dict[str, Any]:
    """A fresh full sync in a child process: wall and CPU time (inside), peak RSS (outside)."""
    for p in (database, Path(str(database) + ".wal")):
        p.unlink(missing_ok=True)
    cmd = [PY, "-m", "benchmarks.sync_child", "--api", api, "--database", str(database)]
    c = run_child(cmd + (["--stages"] if stages else []))
    if c.returncode != 0:
        raise RuntimeError(f"sync child failed: {c.stderr[-2000:]}")
    res = json.loads(c.stdout.strip().splitlines()[-1])
    if res["status"] != "success":
        raise RuntimeError(f"full sync {res['status']}: {res['error']}")
    res["peak_rss_mb"] = c.peak_rss_mb
    res["process_seconds"] = c.seconds
    res["file_mb"] = database.stat().st_size / 2**20  # the warehouse file once the sync closed it
    return res


def stage_breakdown(api: str, database: Path) -> dict[str, Any]:
    """One more full sync with its stages timed (`benchmarks.stages`): CPU per stage."""
    r = full_sync(api, database, stages=True)
    cpu = r["stages"]["cpu_seconds"]
    log("    CPU by stage: " + ", ".join(f"{k} {v:.2f} s" for k, v in cpu.items())
        + f" (total {r['cpu_seconds']:.2f} s, wall {r['seconds']:.2f} s)")
    return r


def sync_runs(api: str, database: Path, reps: int) -> list[dict[str, Any]]:
    out = []
    for i in range(reps):
        r = full_sync(api, database)
        out.append(r)
        log(f"    full sync #{i + 1}: {r['seconds']:.2f} s, CPU {r['cpu_seconds']:.2f} s, "
            f"{r['requests']} requests, peak RSS {r['peak_rss_mb']:.0f} MiB")
    return out


# ---- incremental ---------------------------------------------------------------------------

def incremental_sync(api: str, database: Path) -> dict[str, Any]:
    """One sync in this process, without the serving-copy refresh (timed by `publish_time`)."""
    from pipelines.sync import SyncSettings, run_sync

    t0 = time.perf_counter()
    rep = run_sync(SyncSettings(api_url=api, database=database, concurrency=4, publish=False))
    seconds = time.perf_counter() - t0
    if rep.status != "success":
        raise RuntimeError(f"incremental sync {rep.status}: {rep.error}")
    return {"seconds": seconds, "requests": rep.requests, "bytes": rep.bytes,
            "modes": sorted({o.mode for o in rep.orgs}),
            "changes": {t: list(v) for t, v in rep.changes_by_table().items()}}


def publish_time(database: Path) -> dict[str, Any]:
    """The refresh of the read-only serving copy a sync does after changing something."""
    from pipelines.warehouse.db import connect
    from pipelines.warehouse.publish import publish

    con = connect(database)
    try:
        t0 = time.perf_counter()
        publish(con, database)
        seconds = time.perf_counter() - t0
    finally:
        con.close()
    return {"seconds": seconds, "file_mb": database.stat().st_size / 2**20}


def largest_org(admin: AdminClient) -> str:
    units = admin.truth("units")
    counts: dict[str, int] = {}
    for u in units:
        counts[u["orgUid"]] = counts.get(u["orgUid"], 0) + 1
    return max(counts, key=counts.__getitem__)


# ---- dlt ------------------------------------------------------------------------------------

def dlt_run(api: str, workdir: Path, *, parquet: bool, incremental: bool = False,
            name: str = "cadt_dlt") -> dict[str, Any]:
    cmd = [PY, "-m", "benchmarks.dlt_child", "--api", api, "--dir", str(workdir),
           "--name", name]
    if parquet:
        cmd.append("--parquet")
    if incremental:
        cmd.append("--incremental")
    c = run_child(cmd, env={"RUNTIME__LOG_LEVEL": "ERROR"})
    if c.returncode != 0:
        raise RuntimeError(f"dlt child failed: {c.stderr[-3000:]}")
    res = json.loads(c.stdout.strip().splitlines()[-1])
    res["peak_rss_mb"] = c.peak_rss_mb
    res["process_seconds"] = c.seconds
    return res


# ---- correctness against the truth ----------------------------------------------------------

def _norm(v: Any) -> str | None:
    if v is None:
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


def compare_units(truth: list[dict], mirror: dict[str, tuple]) -> dict[str, int]:
    """Rows of a mirror's units table that differ from the truth, by what went wrong."""
    t = {u["warehouseUnitId"]: tuple(_norm(u.get(c)) for c in UNIT_COLUMNS) for u in truth}
    status_i = UNIT_COLUMNS.index("unitStatus")
    missing = sum(1 for k in t if k not in mirror)
    deleted_kept = sum(1 for k in mirror if k not in t)
    wrong_status = wrong_other = 0
    for k, row in mirror.items():
        want = t.get(k)
        if want is None or want == row:
            continue
        if want[status_i] != row[status_i]:
            wrong_status += 1
        else:
            wrong_other += 1
    return {"truth_rows": len(t), "mirror_rows": len(mirror), "missing": missing,
            "deleted_at_source_but_kept": deleted_kept, "stale_status": wrong_status,
            "stale_other_fields": wrong_other,
            "total_wrong": missing + deleted_kept + wrong_status + wrong_other}


def our_units(database: Path) -> dict[str, tuple]:
    cols = ", ".join(f'"{snake_case(c)}"' for c in UNIT_COLUMNS)
    with duckdb.connect(str(database), read_only=True) as con:
        rows = con.execute(f"SELECT warehouse_unit_id, {cols} FROM cadt_v1.units").fetchall()
    return {r[0]: tuple(_norm(v) for v in r[1:]) for r in rows}


def dlt_units(workdir: Path) -> dict[str, tuple]:
    db = workdir / "dlt.duckdb"
    with duckdb.connect(str(db), read_only=True) as con:
        have = {r[0] for r in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = 'cadt' AND table_name = 'units'").fetchall()}
        cols = ", ".join(f'"{snake_case(c)}"' if snake_case(c) in have else "NULL" for c in UNIT_COLUMNS)
        rows = con.execute(f"SELECT warehouse_unit_id, {cols} FROM cadt.units").fetchall()
    return {r[0]: tuple(_norm(v) for v in r[1:]) for r in rows}


def summarize(runs: list[dict[str, Any]], key: str = "seconds") -> float:
    return median([r[key] for r in runs])
