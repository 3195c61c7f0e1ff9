"""The benchmark scripts work: the quick path end to end, with real assertions."""

from __future__ import annotations

import pytest

pytest.importorskip("dlt", reason="the bench extra (dlt) is not installed")


@pytest.mark.xdist_group("bench")
def test_quick_benchmarks(tmp_path):
    from benchmarks import run_all
    from benchmarks.report import render
    from benchmarks.stages import STAGES

    res = run_all.main(["--quick", "--scales", "1", "--no-dbt", "--json",
                        str(tmp_path / "r.json"), "--out", str(tmp_path / "b.md")])
    s = res["scales"]["1"]
    crawl, lim, sync = s["crawl_by_route"], s["limit_by_route"], s["sync_by_route"]
    n_orgs = s["sim_info"]["orgs"]
    rec = s["recorded"]
    # the limit replays exactly the URLs of the recorded (parsing) crawl, every time, all 200s,
    # and the simulator counts the same requests by route for both
    assert lim == crawl and sum(lim.values()) == rec["requests"] > 0
    assert all(r["urls_match"] and r["bad_status"] == 0 and r["requests"] == rec["requests"]
               for r in s["limit"])
    assert all(r["same_urls"] for r in s["limit_incl_parsing"])  # the crawl is repeatable
    # those are the pages the sync's crawl fetches: audit pages alike, and for projects/units
    # the sync adds only its post-snapshot count check (1 request/org each)
    assert lim["/v1/audit"] == sync["/v1/audit"] > 0
    for route in ("/v1/projects", "/v1/units"):
        assert sync[route] == lim[route] + n_orgs
    assert s["full_sync"][0]["peak_rss_mb"] > 10
    assert all(r["cpu_seconds"] > 0 for r in [*s["limit"], *s["full_sync"]])
    assert s["ratio"] > 0 and s["cpu_ratio"] > 0 and s["ratio_incl_parsing"] > 0
    # CPU by stage: every stage was hit and timed, and with bookkeeping they add up
    st = s["stages"]["stages"]
    assert all(st["calls"][k] > 0 and st["cpu_seconds"][k] > 0 for k in STAGES)
    assert st["cpu_seconds"]["bookkeeping"] >= 0
    assert sum(st["cpu_seconds"].values()) == pytest.approx(st["process_cpu"])
    nc = s["incremental"]["no_change"]
    assert max(r["requests"] for r in nc) <= 2
    assert [r["requests"] for r in s["incremental"]["k"]] == sorted(
        r["requests"] for r in s["incremental"]["k"])
    d = res["dlt"]["2"]
    # dlt loaded the same records the recorded crawl read (and the limit replayed)
    assert d["parquet"][0]["rows"]["units"] == d["records"]["units"]
    assert d["limit"][0]["urls_match"]
    assert d["wrong"]["ours (incremental)"]["total_wrong"] == 0
    assert d["wrong"]["dlt updatedAt incremental"]["total_wrong"] > 0
    report = (tmp_path / "b.md").read_text()
    assert report.startswith("#")
    assert "limit incl. parsing" in report and "Replay check: at every scale" in report
    # two runs side by side: the CPU breakdown gets a before and an after column
    page = render(res, compare=res)
    assert "after (this run)" in page and "after / before" in page
    # §7: a strict, rate-limited node answers no 429 and no other 4xx to a paced sync
    n = res["node_limits"]["modes"]
    runs = [run for mode in n.values() for run in (mode["full"], *mode["k"].values())]
    assert all(r["rate_limited"] == 0 and r["other_4xx"] == 0 for r in runs)
    # (the limiter allows a third of the full sync's requests per window: no 429 means paced)
    assert all(r["requests"] <= r["budget"] for r in n["unlimited"]["k"].values())
    assert "## 7. Against a strict, rate-limited node" in report
