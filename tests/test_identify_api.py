"""Identify and the member view through the agent's real HTTP API against the simulator."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id
from tests.conftest import RunningAgent, wait_for

ASA = member_id("asa")


def identify(agent: RunningAgent, code: str) -> Any:
    with agent.client() as http:
        return http.post("/api/v1/identify", json={"code": code})


def test_card_number_gives_the_full_member_view(running: RunningAgent) -> None:
    response = identify(running, "2400000010014\r\n")
    assert response.status_code == 200
    view = response.json()
    assert view["contact"] == {"id": ASA, "firstName": "Åsa", "lastName": "Öberg", "memberNumber": "1000001"}
    assert view["points"]["balance"] == 2450 and view["points"]["pending"] == 300
    assert view["points"]["accounts"][0]["pendingPoints"] == 300
    assert [v["name"] for v in view["vouchers"]] == ["Födelsedagscheck 50 kr", "Bonuscheck 195 kr"]
    assert view["vouchers"][1]["value"] == {"amount": 195, "currency": "SEK"}
    assert {"amount": 19.5, "currency": "EUR"} in view["vouchers"][1]["localValues"]
    assert view["source"] == "live" and view["fetchedAt"].endswith("Z")


@pytest.mark.parametrize(
    "code",
    [ASA, ASA.upper(), f"https://app.example.com/m/{ASA}", f"]Q3https://app.example.com/?member={ASA}", "1000001"],
)
def test_guid_qr_url_and_member_number(running: RunningAgent, code: str) -> None:
    response = identify(running, code)
    assert response.status_code == 200, response.text
    assert response.json()["contact"]["id"] == ASA


def test_prefixed_ean_is_stripped(agent_factory: Any) -> None:
    agent = agent_factory(scanner={"strip_prefix": "99", "strip_suffix": "#"})
    assert identify(agent, "992400000010014#").json()["contact"]["id"] == ASA


def test_unknown_member_is_404(running: RunningAgent) -> None:
    response = identify(running, "7777777")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "member_not_found"
    unknown_guid = identify(running, str(uuid.uuid4()))
    assert unknown_guid.status_code == 404


@pytest.mark.parametrize("code", ["\x00\x01\x02", "hello world", "https://example.com/offers", "ab"])
def test_garbage_is_422(running: RunningAgent, code: str) -> None:
    response = identify(running, code)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_code"


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b'{"code": 5}',
        b'{"code": ""}',
        b'{"code": "1", "extra": 1}',
        b"{}",
        b'{"code": "' + b"1" * 5000 + b'"}',
    ],
)
def test_wrong_json_is_a_clear_422(running: RunningAgent, body: bytes) -> None:
    with running.client() as http:
        response = http.post("/api/v1/identify", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_engage_down_with_cache_serves_the_cached_view(running: RunningAgent, sim: EngageSimulator) -> None:
    assert identify(running, "2400000010014").status_code == 200
    sim.set_offline(True)
    started = time.monotonic()
    response = identify(running, "2400000010014")
    assert response.status_code == 200
    view = response.json()
    assert view["source"] == "cache" and view["contact"]["firstName"] == "Åsa" and view["ageSeconds"] >= 0
    assert time.monotonic() - started < 5


def test_engage_down_without_cache_is_a_clear_offline_error(running: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    response = identify(running, "1000003")
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "loyalty_offline"


def test_breaker_trips_then_probe_brings_engage_back(running: RunningAgent, sim: EngageSimulator) -> None:
    identify(running, "2400000010014")
    sim.set_offline(True)
    for _ in range(3):
        identify(running, "1000003")
    with running.client() as http:
        assert http.get("/api/v1/health").json()["engage"] == "offline"
        started = time.monotonic()
        response = http.post("/api/v1/identify", json={"code": "2400000010014"})
        assert response.json()["cacheReason"] == "offline"
        assert time.monotonic() - started < 0.5  # offline: no network wait on the cashier path
        sim.set_offline(False)
        wait_for(lambda: http.get("/api/v1/health").json()["engage"] == "online", timeout=5)
        assert http.post("/api/v1/identify", json={"code": "1000003"}).json()["source"] == "live"


def test_slow_engage_with_cache_answers_by_the_deadline(running: RunningAgent, sim: EngageSimulator) -> None:
    identify(running, "2400000010014")
    sim.faults.latency = 2.5
    started = time.monotonic()
    response = identify(running, "2400000010014")
    elapsed = time.monotonic() - started
    sim.faults.latency = 0
    assert response.json()["source"] == "cache" and response.json()["cacheReason"] == "slow"
    assert elapsed < 2.0


def test_engage_nonsense_is_an_error_not_a_crash(running: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("garbage", path="/contacts/id", times=1))
    response = identify(running, "1000003")
    assert response.status_code in (502, 503)
    assert response.json()["error"]["code"] in ("loyalty_error", "loyalty_offline")
    assert identify(running, "1000003").status_code == 200  # and the agent keeps working


def test_wrong_api_key_is_reported_for_the_manager(agent_factory: Any) -> None:
    agent = agent_factory(environ={"POSPLUGIN_ENGAGE_API_KEY": "wrong"})
    response = identify(agent, "1000003")
    assert response.status_code == 502 and response.json()["error"]["code"] == "loyalty_auth"


def test_member_card_reassigned_to_another_contact(running: RunningAgent, sim: EngageSimulator) -> None:
    assert identify(running, "2400000010014").json()["contact"]["id"] == ASA
    sim.state.contacts[ASA].cards.clear()
    sim.state.contacts[member_id("marta")].cards.append("2400000010014")
    assert identify(running, "2400000010014").json()["contact"]["firstName"] == "Märta"


def test_member_endpoint_and_point_transactions_are_readable(running: RunningAgent) -> None:
    with running.client() as http:
        assert http.get(f"/api/v1/members/{ASA}").json()["contact"]["lastName"] == "Öberg"
        assert http.get("/api/v1/members/not-a-guid").status_code == 422
        txs = http.get(f"/api/v1/members/{ASA}/point-transactions", params={"filter": "all"}).json()
        assert txs["totalCount"] == 2
        assert all("@@(" not in t["description"] for t in txs["items"])
        assert txs["items"][0]["description"] == "Points awarded from purchase - Jeans"
        assert txs["items"][0]["pending"] is True
        pending = http.get(f"/api/v1/members/{ASA}/point-transactions", params={"filter": "pending"}).json()
        assert [t["amount"] for t in pending["items"]] == [300]
        assert http.get(f"/api/v1/members/{ASA}/point-transactions", params={"filter": "x"}).status_code == 422
        assert http.get(f"/api/v1/members/{ASA}/point-transactions", params={"count": 0}).status_code == 422


def test_identify_overlaps_the_engage_calls(running: RunningAgent, sim: EngageSimulator) -> None:
    identify(running, ASA)
    sim.faults.latency = 0.3
    started = time.monotonic()
    assert identify(running, ASA).status_code == 200
    elapsed = time.monotonic() - started
    sim.faults.latency = 0
    assert elapsed < 0.3 * 1.6, f"contact, accounts and vouchers were not fetched concurrently ({elapsed:.2f}s)"


def test_openapi_is_served(running: RunningAgent) -> None:
    with running.client() as http:
        spec = http.get("/openapi.json").json()
    assert "/api/v1/identify" in spec["paths"] and "/api/v1/health" in spec["paths"]


def test_member_events_come_only_from_background_refreshes(running: RunningAgent, sim: EngageSimulator) -> None:
    """A panel that reacts to `member` events must not be able to loop: asking for a member announces nothing;
    a slow Engage answering after the cached view was served announces the fresh view."""
    queue = running.agent.events.subscribe()
    try:
        identify(running, "2400000010014")
        with running.client() as http:
            http.get(f"/api/v1/members/{ASA}")
        time.sleep(0.2)
        assert [e.name for e in _drain(queue) if e.name == "member"] == []  # ("status": Engage came online)
        sim.faults.latency = 1.5
        assert identify(running, "2400000010014").json()["cacheReason"] == "slow"
        wait_for(lambda: not queue.empty(), timeout=5)
        event = queue.get_nowait()
        assert event.name == "member" and event.data["view"]["source"] == "live"
    finally:
        sim.faults.latency = 0
        running.agent.events.unsubscribe(queue)


def _drain(queue: Any) -> list[Any]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items


def test_email_and_phone_lookup_keys(agent_factory: Any) -> None:
    agent = agent_factory(engage={"lookup_keys": ["customKey", "email", "mobilePhone"]})
    assert identify(agent, "asa.oberg@example.se").json()["contact"]["id"] == ASA
    assert identify(agent, "+46701234501").json()["contact"]["id"] == ASA
