"""Voucher redemption through the agent's HTTP API against the simulator: every outcome of the state machine."""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import httpx
import pytest

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import RunningAgent, wait_for

ASA, MARTA = member_id("asa"), member_id("marta")
FAST = {"retry_min_seconds": 0.2, "retry_max_seconds": 0.6, "cashier_wait": 2.0}
RECONCILE_LISTS = r"/reward-vouchers(/redeemed)?$"


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


def redeem(agent: RunningAgent, voucher: str, contact: str, op_id: str | None = None, action: str = "redeem") -> Any:
    body: dict[str, str] = {"contactId": contact}
    if op_id:
        body["opId"] = op_id
    with agent.client() as http:
        response = http.post(f"/api/v1/vouchers/{voucher}/{action}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def op_state(agent: RunningAgent, op_id: str) -> dict[str, Any]:
    with agent.client() as http:
        result: dict[str, Any] = http.get(f"/api/v1/ops/{op_id}").json()
        return result


def settles(agent: RunningAgent, op_id: str, timeout: float = 15) -> dict[str, Any]:
    wait_for(lambda: op_state(agent, op_id)["state"] not in ("queued",), timeout=timeout)
    return op_state(agent, op_id)


def test_redeem_200_is_redeemed(agent: RunningAgent, sim: EngageSimulator) -> None:
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-ok")
    assert op["state"] == "redeemed" and op["opId"] == "op-ok" and op["voucherId"] == voucher_id("asa", 1)
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}


def test_already_redeemed_on_first_attempt_is_rejected(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.redeem_elsewhere(voucher_id("asa", 1))
    op = redeem(agent, voucher_id("asa", 1), ASA)
    assert (op["state"], op["reason"]) == ("rejected", "already_redeemed")
    assert op["reasonText"] == "already redeemed"


def test_expired_is_rejected_and_a_voucher_in_no_list_of_the_member_is_refused(agent: RunningAgent) -> None:
    assert redeem(agent, voucher_id("asa", 3), ASA)["reason"] == "expired"
    with agent.client() as http:
        unknown = http.post(
            "/api/v1/vouchers/00000000-0000-4000-8000-000000000000/redeem", json={"contactId": ASA, "opId": "op-x"}
        )
        assert unknown.status_code == 422 and unknown.json()["error"]["code"] == "voucher_not_owned"
        assert http.get("/api/v1/ops/op-x").status_code == 404  # nothing captured


def test_bad_ids_are_422_before_anything_is_captured(agent: RunningAgent) -> None:
    with agent.client() as http:
        for path, body in [
            ("/api/v1/vouchers/not-a-guid/redeem", {"contactId": ASA}),
            (f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", {"contactId": "x"}),
            (f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", {"contactId": ASA, "opId": "bad id!"}),
            (f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", {}),
        ]:
            response = http.post(path, json=body)
            assert response.status_code == 422, (path, body, response.text)
        assert http.get("/api/v1/queue").json()["ops"] == []


def test_same_op_id_returns_the_same_op_and_never_a_second(agent: RunningAgent, sim: EngageSimulator) -> None:
    first = redeem(agent, voucher_id("asa", 1), ASA, "op-same")
    again = redeem(agent, voucher_id("asa", 1), ASA, "op-same")
    assert first == again and sim.state.redeem_commits == {voucher_id("asa", 1): 1}
    with agent.client() as http:
        other = http.post(f"/api/v1/vouchers/{voucher_id('asa', 2)}/redeem", json={"contactId": ASA, "opId": "op-same"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "op_id_conflict"


def test_one_live_op_per_voucher(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("slow_commit", method="POST", path="/redeem$", delay=4))
    first = redeem(agent, voucher_id("asa", 1), ASA, "op-first")
    assert first["state"] == "queued"
    with agent.client() as http:
        second = http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": ASA})
    assert second.status_code == 409 and second.json()["error"]["code"] == "voucher_busy"
    assert settles(agent, "op-first")["state"] == "redeemed"


def test_connect_error_is_retried_later(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, "2400000010014")  # the cashier saw the voucher: the offline rules can accept it
    sim.set_offline(True)
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-later")
    assert op["state"] == "queued"
    assert sim.state.redeem_commits == {}
    sim.set_offline(False)
    assert settles(agent, "op-later")["state"] == "redeemed"
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}


def test_reset_after_commit_reconciles_to_redeemed(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/redeem$"))
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-reset")
    assert op["state"] == "redeemed"
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}


@pytest.mark.parametrize("fault", ["gateway_timeout", "slow_save", "error", "reset_before"])
def test_failures_before_commit_are_reconciled_then_resent(
    agent: RunningAgent, sim: EngageSimulator, fault: str
) -> None:
    sim.state.settings.point_of_no_return = 0.3
    sim.faults.add(FaultRule(fault, method="POST", path="/redeem$", delay=0.5, status=502))
    op = redeem(agent, voucher_id("asa", 1), ASA, f"op-{fault}")
    final = settles(agent, op["opId"]) if op["state"] == "queued" else op
    assert final["state"] == "redeemed"
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}
    assert final["attempts"] == 2


def test_thirty_second_commit_ends_redeemed_not_conflict(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline={**FAST, "cashier_wait": 1.0})
    sim.faults.add(FaultRule("slow_commit", method="POST", path="/redeem$", delay=30))
    started = time.monotonic()
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-slow")
    assert op["state"] == "queued" and time.monotonic() - started < 3  # the cashier is not held
    final = settles(agent, "op-slow", timeout=45)
    assert final["state"] == "redeemed" and final["attempts"] == 1
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}


def test_redeemed_elsewhere_while_ours_was_unknown_is_conflict(agent: RunningAgent, sim: EngageSimulator) -> None:
    voucher = voucher_id("asa", 1)
    sim.faults.add(FaultRule("reset_before", method="POST", path="/redeem$"))
    # The owner's available list answers (the check before capture); the lists reconciliation reads do not.
    sim.faults.add(FaultRule("error", method="GET", path=RECONCILE_LISTS, times=1000))
    op = redeem(agent, voucher, ASA, "op-elsewhere")
    assert op["state"] == "queued"  # unanswered and not reconcilable yet
    sim.state.redeem_elsewhere(voucher, at=sim.state.now() + timedelta(minutes=2))
    sim.faults.clear()
    final = settles(agent, "op-elsewhere")
    assert (final["state"], final["reason"]) == ("conflict", "already_redeemed")
    assert sim.state.redeem_commits == {voucher: 1}  # only the other channel's


def test_unknown_attempt_that_did_commit_is_ours(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/redeem$"))
    sim.faults.add(FaultRule("error", method="GET", path=RECONCILE_LISTS, times=2))
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-ours")
    final = settles(agent, "op-ours") if op["state"] == "queued" else op
    assert final["state"] == "redeemed"


def test_429_is_honoured(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("rate_limit", method="POST", path="/redeem$", delay=1))
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-429")
    final = settles(agent, "op-429") if op["state"] == "queued" else op
    assert final["state"] == "redeemed" and sim.state.redeem_commits == {voucher_id("asa", 1): 1}


def test_reactivate_after_redeem_and_the_limit(agent: RunningAgent, sim: EngageSimulator) -> None:
    voucher = voucher_id("marta", 1)
    assert redeem(agent, voucher, MARTA, action="reactivate")["state"] == "completed"  # already active = done
    for _ in range(3):
        assert redeem(agent, voucher, MARTA)["state"] == "redeemed"
        assert redeem(agent, voucher, MARTA, action="reactivate")["state"] == "completed"
    assert redeem(agent, voucher, MARTA)["state"] == "redeemed"
    op = redeem(agent, voucher, MARTA, action="reactivate")
    assert (op["state"], op["reason"]) == ("rejected", "reactivation_limit")


def test_reactivate_unknown_outcome_is_reconciled(agent: RunningAgent, sim: EngageSimulator) -> None:
    voucher = voucher_id("marta", 1)
    assert redeem(agent, voucher, MARTA)["state"] == "redeemed"
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/reactivate$"))
    op = redeem(agent, voucher, MARTA, action="reactivate")
    final = settles(agent, op["opId"]) if op["state"] == "queued" else op
    assert final["state"] == "completed"
    assert sim.state.vouchers[voucher].reactivations == 1


def identify(agent: RunningAgent, code: str) -> None:
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": code}).status_code == 200


def go_offline(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    with agent.client() as http:
        http.post("/api/v1/identify", json={"code": "7777777"})
        wait_for(lambda: http.get("/api/v1/health").json()["engage"] == "offline", timeout=5)


def test_offline_queue_accepts_seen_vouchers_and_drains(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, "2400000010014")
    go_offline(agent, sim)
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-offline")
    assert op["state"] == "queued"
    not_seen = redeem(agent, voucher_id("marta", 1), MARTA, "op-unseen")
    assert (not_seen["state"], not_seen["reason"]) == ("rejected", "offline_not_allowed")
    with agent.client() as http:
        assert http.get("/api/v1/health").json()["queue"]["pending"] == 1
    sim.set_offline(False)
    assert settles(agent, "op-offline")["state"] == "redeemed"
    assert sim.state.redeem_commits == {voucher_id("asa", 1): 1}
    assert op_state(agent, "op-unseen")["state"] == "rejected"  # same opId, same answer, even online now


def test_offline_limits_cap_and_duration(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline={**FAST, "max_queued_per_till": 1, "max_offline_hours": 1.0})
    identify(agent, "2400000010014")
    go_offline(agent, sim)
    assert redeem(agent, voucher_id("asa", 1), ASA)["state"] == "queued"
    capped = redeem(agent, voucher_id("asa", 2), ASA)
    assert (capped["state"], capped["reason"]) == ("rejected", "offline_not_allowed")
    agent.agent.status.offline_since = time.time() - 2 * 3600  # offline for two hours
    late = redeem(agent, voucher_id("asa", 2), ASA)
    assert (late["state"], late["reason"]) == ("rejected", "offline_not_allowed")


def test_offline_refusal_after_queued_is_conflict(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, "2400000010014")
    go_offline(agent, sim)
    assert redeem(agent, voucher_id("asa", 1), ASA, "op-told-queued")["state"] == "queued"
    sim.state.redeem_elsewhere(voucher_id("asa", 1))  # the web shop used it meanwhile
    sim.set_offline(False)
    final = settles(agent, "op-told-queued")
    assert (final["state"], final["reason"]) == ("conflict", "already_redeemed")  # never silently rejected


def test_parking_after_too_many_attempts_then_retry(agent_factory: Any, sim: EngageSimulator) -> None:
    agent = agent_factory(offline={**FAST, "max_attempts": 2}, engage={"breaker_failures": 50})
    sim.faults.add(FaultRule("error", method="POST", path="/redeem$", times=None, status=500))
    op = redeem(agent, voucher_id("asa", 1), ASA, "op-park")
    final = settles(agent, "op-park")
    assert (final["state"], final["reason"]) == ("parked", "too_many_attempts")
    with agent.client() as http:
        assert http.get("/api/v1/queue").json()["parked"] == 1
        sim.faults.clear()
        retried = http.post("/api/v1/ops/op-park/retry", json={}).json()
        assert retried["state"] == "queued"
    assert settles(agent, "op-park")["state"] == "redeemed"
    assert op["opId"] == "op-park"


def test_park_by_hand(agent: RunningAgent, sim: EngageSimulator) -> None:
    identify(agent, "2400000010014")
    sim.set_offline(True)
    redeem(agent, voucher_id("asa", 1), ASA, "op-hand")
    with agent.client() as http:
        parked = http.post("/api/v1/ops/op-hand/park", json={}).json()
        assert (parked["state"], parked["reason"]) == ("parked", "parked_by_user")
        assert http.get("/api/v1/ops/nope").status_code == 404


def test_queue_survives_a_restart(agent_factory: Any, sim: EngageSimulator) -> None:
    first = agent_factory(offline=FAST)
    identify(first, "2400000010014")
    sim.set_offline(True)
    assert redeem(first, voucher_id("asa", 1), ASA, "op-restart")["state"] == "queued"
    first.stop()
    sim.set_offline(False)
    from tests.conftest import start_agent

    second = start_agent(first.agent.config)
    try:
        assert settles(second, "op-restart")["state"] == "redeemed"
    finally:
        second.stop()


def test_op_events_reach_sse_subscribers(agent: RunningAgent, sim: EngageSimulator) -> None:
    lines: list[str] = []
    with httpx.Client(base_url=agent.base_url, headers={"X-POS-Token": agent.token}, timeout=10) as http:
        with http.stream("GET", "/api/v1/events") as stream:
            redeem(agent, voucher_id("asa", 1), ASA, "op-sse")
            for line in stream.iter_lines():
                lines.append(line)
                if line.startswith("data:") and '"op-sse"' in line and "redeemed" in line:
                    break
    assert any(line == "event: op" for line in lines)
