"""A trickling Engage (each chunk quick, the answer endless) cannot hold the cashier past the lookup deadline."""

from __future__ import annotations

import time
from typing import Any

import httpx

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id
from tests.conftest import RunningAgent


def test_identify_of_an_uncached_member_ends_within_the_deadline(agent_factory: Any, sim: EngageSimulator) -> None:
    running: RunningAgent = agent_factory(engage={"read_timeout": 1.0, "cashier_deadline": 0.5})
    sim.faults.add(FaultRule("trickle", method="GET", path="/contacts/id$", times=None, delay=0.3))
    started = time.monotonic()
    with httpx.Client(base_url=running.base_url, headers={"X-POS-Token": running.token}, timeout=15) as http:
        answer = http.post("/api/v1/identify", json={"code": "1000001"})
    elapsed = time.monotonic() - started
    assert elapsed < 3.0, f"identify took {elapsed:.1f} s"
    assert answer.status_code == 503 and answer.json()["error"]["code"] == "loyalty_offline"


def test_a_trickled_member_fetch_is_bounded_too(agent_factory: Any, sim: EngageSimulator) -> None:
    running: RunningAgent = agent_factory(engage={"read_timeout": 1.0, "cashier_deadline": 0.5})
    contact = member_id("asa")
    sim.faults.add(FaultRule("trickle", method="GET", path="/point-accounts$", times=None, delay=0.3))
    started = time.monotonic()
    with httpx.Client(base_url=running.base_url, headers={"X-POS-Token": running.token}, timeout=15) as http:
        answer = http.get(f"/api/v1/members/{contact}")
    assert time.monotonic() - started < 3.0
    assert answer.status_code == 503


def test_a_full_connection_pool_is_busy_not_offline(agent_factory: Any) -> None:
    def pool_full(request: httpx.Request) -> httpx.Response:
        raise httpx.PoolTimeout("no free connection", request=request)

    running: RunningAgent = agent_factory(options={"engage_transport": httpx.MockTransport(pool_full)})
    with running.client() as http:
        for _ in range(5):
            answer = http.post("/api/v1/identify", json={"code": "1000001"})
            assert answer.status_code == 503 and answer.json()["error"]["code"] == "loyalty_busy"
    assert running.agent.status.state != "offline"
