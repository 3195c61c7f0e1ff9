"""The benchmark scripts work: the quick path end to end, with real assertions."""

from __future__ import annotations

import pytest

pytest.importorskip("dlt", reason="the bench extra (dlt) is not installed")


@pytest.mark.xdist_group("bench")
def test_quick_benchmarks(tmp_path):
    from benchmarks import run_all

    res = run_all.main(["--quick", "--scales", "1", "--no-dbt", "--json",
                        str(tmp_path / "r.json"), "--out", str(tmp_path / "b.md")])
    s = res["scales"]["1"]
    lim, sync = s["limit_by_route"], s["sync_by_route"]
    n_orgs = s["sim_info"]["orgs"]
    # the limit fetches exactly the pages the sync's crawl fetches: audit pages alike, and
    # for projects/units the sync adds only its post-snapshot count check (1 request/org each)
    assert lim["/v1/audit"] == sync["/v1/audit"] > 0
    for route in ("/v1/projects", "/v1/units"):
        assert sync[route] == lim[route] + n_orgs
    assert all(r["requests"] == s["limit"][0]["requests"] for r in s["limit"])
    assert s["full_sync"][0]["peak_rss_mb"] > 10
    assert s["ratio"] > 0
    nc = s["incremental"]["no_change"]
    assert max(r["requests"] for r in nc) <= 2
    assert [r["requests"] for r in s["incremental"]["k"]] == sorted(
        r["requests"] for r in s["incremental"]["k"])
    d = res["dlt"]["2"]
    # dlt loaded the same records the limit fetched
    assert d["parquet"][0]["rows"]["units"] == d["limit"][0]["records"]["units"]
    assert d["wrong"]["ours (incremental)"]["total_wrong"] == 0
    assert d["wrong"]["dlt updatedAt incremental"]["total_wrong"] > 0
    assert (tmp_path / "b.md").read_text().startswith("#")
