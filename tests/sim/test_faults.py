"""Every fault kind is observable with a plain httpx client; admin routes are never faulted."""

from __future__ import annotations

import time

import httpx
import pytest

from cadt_sim import AdminClient, Simulator

UNITS = "/v1/units?page=1&limit=50&order=warehouseUnitId:ASC"


def test_5xx_and_429(fresh: Simulator, fc: httpx.Client) -> None:
    fresh.set_faults([{"route": "/v1/units", "kind": "5xx", "rate": 1.0, "status": 503}])
    assert fc.get(UNITS).status_code == 503
    assert fc.get("/v1/projects?page=1&limit=1").status_code == 200
    assert fc.get("/_sim/info").status_code == 200
    fresh.set_faults([{"route": "*", "kind": "429", "rate": 1.0, "retry_after": 7}])
    r = fc.get("/api/v1/projects?page=1&limit=1")
    assert r.status_code == 429 and r.headers["retry-after"] == "7"
    fresh.clear_faults()
    assert fc.get(UNITS).status_code == 200


def test_rate_is_seeded(fresh: Simulator, fc: httpx.Client) -> None:
    def run() -> list[int]:
        fresh.set_faults([{"route": "*", "kind": "5xx", "rate": 0.5}], seed=42)
        return [fc.get("/health").status_code for _ in range(30)]

    a, b = run(), run()
    assert a == b and 500 in a and 200 in a


def test_latency(fresh: Simulator, fc: httpx.Client) -> None:
    fresh.set_faults([{"route": "/v1/units", "kind": "latency", "rate": 1.0,
                       "latency_ms": 300}])
    t = time.perf_counter()
    assert fc.get(UNITS).status_code == 200
    assert time.perf_counter() - t >= 0.3


def test_cut(fresh: Simulator, fc: httpx.Client) -> None:
    fresh.set_faults([{"route": "/v1/units", "kind": "cut", "rate": 1.0}])
    with pytest.raises(httpx.RemoteProtocolError):
        fc.get(UNITS)
    fresh.clear_faults()
    with httpx.Client(base_url=fresh.url) as c2:
        assert c2.get(UNITS).status_code == 200


def test_truncate(fresh: Simulator, fc: httpx.Client) -> None:
    full = fc.get(UNITS).content
    fresh.set_faults([{"route": "/v1/units", "kind": "truncate", "rate": 1.0}])
    r = fc.get(UNITS)
    assert r.status_code == 200 and len(r.content) == int(r.headers["content-length"])
    assert full.startswith(r.content) and len(r.content) < len(full)
    with pytest.raises(ValueError):
        r.json()


def test_malformed_is_served_copy_only(fresh: Simulator, fc: httpx.Client) -> None:
    clean = fc.get(UNITS).json()["data"]
    fresh.set_faults([{"route": "/v1/units", "kind": "malformed", "rate": 1.0}], seed=1)
    bad = fc.get(UNITS).json()["data"]
    assert bad != clean and len(bad) == len(clean)
    fresh.clear_faults()
    assert fc.get(UNITS).json()["data"] == clean


def test_admin_client_and_stats(fresh: Simulator, fc: httpx.Client) -> None:
    with AdminClient(fresh.url) as adm:
        adm.reset_stats()
        fc.get(UNITS)
        fc.get("/api/v1/units?page=1&limit=1")
        st = adm.stats()
        assert st == {"total": 2, "by_route": {"/v1/units": 2}}
        res = adm.activity("retire", 2)
        assert res["changed"] == {"units": 2}
        assert adm.set_faults([{"route": "*", "kind": "5xx"}])["rules"]
        assert fc.get("/health").status_code == 500
        adm.clear_faults()
        assert len(adm.truth("units")) == len(fresh.truth("units"))
        assert adm.info()["tables"]["units"] == len(fresh.truth("units"))


def test_churn_keyset_crawl_stays_consistent(fresh: Simulator, fc: httpx.Client) -> None:
    from .conftest import crawl

    gen0 = sum(o.generation for o in fresh.ledger.orgs.values())
    fresh.start_churn(interval_ms=5, kinds=["retire", "edit_units", "issue_units"])
    try:
        got = crawl(fc, "/v1/units", "warehouseUnitId", limit=20)
    finally:
        fresh.stop_churn()
    ids = [u["warehouseUnitId"] for u in got]
    assert len(ids) == len(set(ids)) and ids == sorted(ids)
    assert sum(o.generation for o in fresh.ledger.orgs.values()) > gen0
