"""Property: any sequence of source activity interleaved with syncs leaves the mirror exact,
and the sync never sends a request the (strict) simulator refuses: a 4xx that no fault rule
provoked would be refused by a real node too (the guard against a test world kinder than it)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cadt_sim import KINDS, Simulator
from pipelines.sync import SyncSettings, run_sync
from tests.support.truth import diff

ACTIVITY = st.tuples(st.sampled_from(KINDS), st.integers(min_value=1, max_value=4))
STEP = st.one_of(ACTIVITY, st.just("sync"))
SCENARIO = st.tuples(st.integers(min_value=0, max_value=10_000),
                     st.lists(STEP, min_size=1, max_size=12))


def _refused(sim: Simulator) -> list[dict]:
    """4xx answers the simulator gave that no injected fault provoked."""
    return [r for r in sim.rejections() if not r["fault"]]


def _check(seed: int, steps: list) -> None:
    with tempfile.TemporaryDirectory() as tmp, Simulator(seed=seed, scale=0.5) as sim:
        cfg = SyncSettings(api_url=sim.url + "/api/v1", database=Path(tmp) / "m.duckdb",
                           verify=True, publish=False)
        assert run_sync(cfg).status == "success"
        assert _refused(sim) == []
        for step in [*steps, "sync"]:
            if step == "sync":
                report = run_sync(cfg)
                assert report.status == "success", report.error
                assert diff(sim, cfg.database) == {}, steps
                assert _refused(sim) == [], steps
            else:
                kind, count = step
                if kind == "remove_org" and len(sim.ledger.orgs) <= 1:
                    continue  # a node listing nobody is refused on purpose (test_faults_and_churn)
                sim.activity(kind, count=count)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(SCENARIO)
def test_activity_and_syncs_in_any_order_converge(scenario):
    _check(*scenario)


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(SCENARIO)
def test_activity_and_syncs_in_any_order_converge_thoroughly(scenario):
    _check(*scenario)
