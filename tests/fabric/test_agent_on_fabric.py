"""The whole agent on the fabric backend, against the fabric simulator: identify, earn and reverse through the
outbox, rewards issued and redeemed at the till (exactly once across a lost answer), undo, and what fabric
cannot do answered as 404 not_supported."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from posplugin.vendors.fabric.simulator import FabricSimulator
from posplugin.vendors.faults import FaultRule
from tests.conftest import RunningAgent, fabric_agent, wait_for
from tests.sale_factory import line, sale

from .conftest import ANNA, SARA

ANNA_CARD = "8800000000011"


@pytest.fixture
def agent(tmp_path: Path, fabric: FabricSimulator) -> Iterator[RunningAgent]:
    running = fabric_agent(tmp_path, fabric)
    yield running
    running.stop()


def purchase(receipt_id: str, member: dict[str, str]) -> dict[str, Any]:
    body = sale(receipt_id, [line("7310865004703", 2, Decimal("40.00"), Decimal("0"), 25, "purchase")])
    return {**body, "member": member}


def settled(agent: RunningAgent, op_id: str, timeout: float = 15.0) -> dict[str, Any]:
    with agent.client() as http:
        found: dict[str, Any] = {}

        def done() -> bool:
            found.update(http.get(f"/api/v1/ops/{op_id}").json())
            return found["state"] != "queued"

        wait_for(done, timeout)
        return found


def test_identify_shows_the_fabric_member_in_the_agent_s_view(agent: RunningAgent) -> None:
    with agent.client() as http:
        view = http.post("/api/v1/identify", json={"code": ANNA_CARD}).json()
        assert view["contact"] == {"id": ANNA, "firstName": "Anna", "lastName": "Lind", "memberNumber": ANNA_CARD}
        assert view["points"]["balance"] == 1200 and view["vouchers"] == [] and view["source"] == "live"
        assert http.post("/api/v1/identify", json={"code": "8800000000999"}).json()["error"]["code"] == (
            "member_not_found"
        )
        # An app QR code carries the profileId: the same member, without a card lookup.
        assert (
            http.post("/api/v1/identify", json={"code": f"https://app.example/m/{ANNA}"}).json()["contact"]["id"]
            == ANNA
        )
        health = http.get("/api/v1/health").json()
        assert {"identify", "sales", "rewards"} <= set(health["features"])
        assert not {"point_shop", "redeem", "point_adjustments"} & set(health["features"])


def test_what_fabric_cannot_do_is_404_not_supported(agent: RunningAgent) -> None:
    voucher = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"
    with agent.client() as http:
        for method, path, body in (
            ("GET", f"/api/v1/members/{ANNA}/point-shop/items", None),
            ("POST", f"/api/v1/vouchers/{voucher}/redeem", {"contactId": ANNA}),
            ("POST", f"/api/v1/members/{ANNA}/point-adjustments", {"amount": 10, "description": "goodwill"}),
        ):
            answer = http.request(method, path, json=body)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_supported", path


def test_a_sale_earns_once_and_its_return_reverses_it(agent: RunningAgent, fabric: FabricSimulator) -> None:
    with agent.client() as http:
        first = http.post("/api/v1/sales", json=purchase("R-1", {"contactId": ANNA}))
        assert first.status_code == 202 and first.json()["kind"] == "sale_earn"
        assert settled(agent, first.json()["opId"])["state"] == "delivered"
        again = http.post("/api/v1/sales", json=purchase("R-1", {"contactId": ANNA}))
        assert again.json()["opId"] == first.json()["opId"]
        assert fabric.state.earn_commits == 1
        after_earn = http.get(f"/api/v1/members/{ANNA}").json()["points"]["balance"]
        assert after_earn > 1200

        back = sale("R-2", [line("7310865004703", 2, Decimal("40.00"), Decimal("0"), 25, "return")])
        body = {**back, "member": {"contactId": ANNA}, "originalReceiptId": "R-1"}
        returned = http.post("/api/v1/sales", json=body)
        assert returned.status_code == 202, returned.text
        assert settled(agent, returned.json()["opId"])["state"] == "delivered"
        assert http.get(f"/api/v1/members/{ANNA}").json()["points"]["balance"] == 1200


def test_a_sale_fabric_has_no_form_for_is_refused_before_capture(agent: RunningAgent) -> None:
    mixed = sale(
        "R-3",
        [
            line("7310865004703", 1, Decimal("40.00"), Decimal("0"), 25, "purchase"),
            line("7310865004710", 1, Decimal("10.00"), Decimal("0"), 25, "return"),
        ],
    )
    with agent.client() as http:
        answer = http.post("/api/v1/sales", json={**mixed, "member": {"contactId": ANNA}})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_sale"
        anonymous = http.post("/api/v1/sales", json=purchase("R-4", {}) | {"member": None})
        assert anonymous.status_code == 422
        unnamed_return = sale("R-5", [line("7310865004703", 1, Decimal("40.00"), Decimal("0"), 25, "return")])
        answer = http.post("/api/v1/sales", json={**unnamed_return, "member": {"contactId": ANNA}})
        assert answer.status_code == 422  # a fabric return names the sale it returns
        assert http.get("/api/v1/queue").json()["ops"] == []


def test_a_sale_with_only_a_card_number_is_resolved_by_the_outbox(agent: RunningAgent) -> None:
    with agent.client() as http:
        op = http.post("/api/v1/sales", json=purchase("R-6", {"code": ANNA_CARD})).json()
        assert settled(agent, op["opId"])["state"] == "delivered"
        op = http.post("/api/v1/sales", json=purchase("R-7", {"code": "8800000000999"})).json()
        final = settled(agent, op["opId"])
        # The POS heard "queued": a refusal after that is a conflict for a person, as with Engage.
        assert final["state"] == "conflict" and final["reason"] == "earn_member_not_found"


def test_a_reward_is_issued_and_redeemed_and_too_few_points_are_refused(
    agent: RunningAgent, fabric: FabricSimulator
) -> None:
    with agent.client() as http:
        op = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "50.00", "opId": "rw-1"}).json()
        op = settled(agent, op["opId"]) if op["state"] == "queued" else op
        assert op["kind"] == "reward_redeem" and op["state"] == "redeemed" and op["amount"] == "50.00"
        assert op["redemptionCode"] and op["rewardId"] == "rw-1"
        assert fabric.state.reward_statuses(ANNA) == ["Redeemed"]
        again = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "50.00", "opId": "rw-1"}).json()
        assert again["redemptionCode"] == op["redemptionCode"] and fabric.state.issue_commits == 1
        other = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "60.00", "opId": "rw-1"})
        assert other.status_code == 409 and other.json()["error"]["code"] == "op_id_conflict"

        poor = http.post(f"/api/v1/members/{SARA}/rewards", json={"amount": "500.00", "opId": "rw-2"}).json()
        poor = settled(agent, poor["opId"]) if poor["state"] == "queued" else poor
        assert poor["state"] == "rejected" and poor["reason"] == "insufficient_points"
        assert http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "0"}).status_code == 422
        assert http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "1.005"}).status_code == 422


def test_a_lost_answer_on_reward_issue_gives_one_reward(agent: RunningAgent, fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", method="POST", path="/v1/redeem/reward/issue"))
    with agent.client() as http:
        op = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "25.00", "opId": "rw-lost"}).json()
        final = settled(agent, op["opId"]) if op["state"] == "queued" else op
        assert final["state"] == "redeemed", final
    assert fabric.state.issue_commits == 1  # the reward issued by the unanswered call was adopted
    assert fabric.state.reward_statuses(ANNA) == ["Redeemed"]


def test_undo_reverses_a_redeemed_reward_once(agent: RunningAgent, fabric: FabricSimulator) -> None:
    with agent.client() as http:
        op = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "40.00", "opId": "rw-u"}).json()
        op = settled(agent, op["opId"]) if op["state"] == "queued" else op
        undo = http.post("/api/v1/ops/rw-u/undo").json()
        undo = settled(agent, undo["opId"]) if undo["state"] == "queued" else undo
        assert undo["kind"] == "reward_reverse" and undo["state"] == "completed" and undo["rewardId"] == "rw-u"
        assert http.post("/api/v1/ops/rw-u/undo").json()["opId"] == undo["opId"]  # one undo per reward
        assert fabric.state.reward_statuses(ANNA) == ["Reversed"]
        assert http.post("/api/v1/ops/nope/undo").status_code == 404
        assert http.get(f"/api/v1/members/{ANNA}").json()["points"]["balance"] == 1200


def test_a_token_that_expires_between_calls_is_renewed(tmp_path: Path, fabric: FabricSimulator) -> None:
    fabric.state.settings.token_ttl = 1.0
    running = fabric_agent(tmp_path, fabric)
    try:
        with running.client() as http:
            assert http.post("/api/v1/identify", json={"code": ANNA_CARD}).status_code == 200
            time.sleep(1.2)
            assert http.post("/api/v1/identify", json={"code": ANNA_CARD}).json()["source"] == "live"
        assert fabric.state.token_requests >= 2
    finally:
        running.stop()


def test_offline_the_cached_member_shows_and_a_reward_is_refused(agent: RunningAgent, fabric: FabricSimulator) -> None:
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": ANNA_CARD}).status_code == 200
        fabric.set_offline(True)
        wait_for(lambda: http.get("/api/v1/health").json()["engage"] == "offline", 10)
        view = http.post("/api/v1/identify", json={"code": ANNA_CARD}).json()
        assert view["source"] == "cache" and view["contact"]["id"] == ANNA
        refused = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "10.00"})
        assert refused.status_code == 503 and refused.json()["error"]["code"] == "loyalty_offline"
        queued = http.post("/api/v1/sales", json=purchase("R-off", {"contactId": ANNA})).json()
        assert queued["state"] == "queued"
        fabric.set_offline(False)
        assert settled(agent, queued["opId"], 20)["state"] == "delivered"


def test_rewards_for_one_member_at_once_with_a_lost_answer_each_get_their_own(
    agent: RunningAgent, fabric: FabricSimulator
) -> None:
    """A lost issue answer makes its op read the history; a reward another op is issuing right then must not look
    like an extra of ours and be cancelled."""
    fabric.faults.add(FaultRule("reset_after_commit", method="POST", path="/v1/redeem/reward/issue"))
    # The others' answers come late: their rewards are in the history before their codes are kept.
    fabric.faults.add(FaultRule("latency", method="POST", path="/v1/redeem/reward/issue", times=10, delay=0.8))
    with agent.client() as http, ThreadPoolExecutor(max_workers=4) as pool:
        post = lambda n: http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "10.00", "opId": f"rw-c{n}"})  # noqa: E731
        answers = list(pool.map(post, range(4)))
    finals = [settled(agent, a.json()["opId"]) if a.json()["state"] == "queued" else a.json() for a in answers]
    assert [op["state"] for op in finals] == ["redeemed"] * 4, finals
    assert sorted(fabric.state.reward_statuses(ANNA)) == ["Redeemed"] * 4
    assert len({op["redemptionCode"] for op in finals}) == 4
