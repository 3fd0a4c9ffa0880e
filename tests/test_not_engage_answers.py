"""A captive portal, a proxy's block page or a mistyped address answering in Engage's place: never success."""

from __future__ import annotations

import time
from typing import Any

import pytest

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import RunningAgent, wait_for
from tests.sale_factory import example_sale
from tests.test_redemption_api import FAST, op_state, redeem, settles
from tests.test_settings_api import login, post

ASA = member_id("asa")


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


@pytest.mark.parametrize("fault", ["redirect", "garbage"])
def test_a_redeem_answered_by_a_portal_is_not_redeemed_and_is_sent_again_once_engage_answers(
    agent: RunningAgent, sim: EngageSimulator, fault: str
) -> None:
    voucher = voucher_id("asa", 1)
    sim.faults.add(FaultRule(fault, method="POST", path="/redeem$", times=1))
    op = redeem(agent, voucher, ASA, f"op-{fault}")
    assert op["state"] != "redeemed"
    final = settles(agent, op["opId"]) if op["state"] == "queued" else op
    assert final["state"] == "redeemed" and final["attempts"] == 2  # reconciled by GET, then sent again
    assert sim.state.redeem_commits == {voucher: 1}


def test_while_everything_redirects_the_op_stays_queued_and_the_voucher_unspent(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    voucher = voucher_id("asa", 1)
    with agent.client() as http:  # the cashier saw the voucher: the offline rules may accept it
        assert http.post("/api/v1/identify", json={"code": "2400000010014"}).status_code == 200
    sim.faults.add(FaultRule("redirect", method="POST", path="/redeem$", times=None))
    sim.faults.add(FaultRule("redirect", method="GET", path="/reward-vouchers", times=None))
    op = redeem(agent, voucher, ASA, "op-portal")
    assert op["state"] == "queued"
    time.sleep(1.0)
    assert op_state(agent, "op-portal")["state"] == "queued"
    assert sim.state.redeem_commits == {}
    sim.faults.clear()
    agent.agent.worker.wake()
    assert settles(agent, "op-portal", timeout=20)["state"] == "redeemed"


def test_a_sale_answered_by_a_portal_is_not_delivered(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("redirect", method="POST", path="/receipts$", times=None))
    with agent.client() as http:
        op = http.post("/api/v1/sales", json={**example_sale("S1-T1-0900"), "member": {"contactId": ASA}}).json()
    time.sleep(1.0)
    with agent.client() as http:
        assert http.get(f"/api/v1/ops/{op['opId']}").json()["state"] == "queued"
    assert "S1-T1-0900" not in sim.state.receipts
    sim.faults.clear()

    def delivered() -> bool:
        with agent.client() as http:
            return bool(http.get(f"/api/v1/ops/{op['opId']}").json()["state"] == "delivered")

    agent.agent.worker.wake()
    wait_for(delivered, timeout=20)


@pytest.mark.parametrize("fault", ["redirect", "garbage"])
def test_connection_test_needs_a_real_engage_answer(agent: RunningAgent, sim: EngageSimulator, fault: str) -> None:
    client, csrf = login(agent)
    sim.faults.add(FaultRule(fault, times=None))
    result = post(client, csrf, "/settings/api/test-connection").json()
    assert result["keyValid"] is not True and result["reachable"] is False
    assert "does not answer like Engage" in result["message"]
