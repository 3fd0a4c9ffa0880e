"""The point shop through the agent's API against the simulator: catalogue, idempotent purchase, history,
receipt, and purchases that lose their answer."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.loyalty.kinds import POINT_SHOP_PURCHASE
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import Op, Unknown
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.point_shop import PointShopPurchaseCall
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, item_id, member_id
from tests.conftest import RunningAgent, wait_for
from tests.receipts.escpos_decoder import decode

ASA = member_id("asa")
FAST = {"retry_min_seconds": 0.2, "retry_max_seconds": 0.6, "cashier_wait": 2.0}


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


def buy(agent: RunningAgent, item: str, op_id: str | None = None, contact: str = ASA) -> dict[str, Any]:
    body = {"itemId": item_id(item)} | ({"opId": op_id} if op_id else {})
    with agent.client() as http:
        response = http.post(f"/api/v1/members/{contact}/point-shop/purchases", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def balance(sim: EngageSimulator, contact: str = ASA) -> float:
    return sim.state.active_balance(contact, 1)


def settle(agent: RunningAgent, op_id: str) -> dict[str, Any]:
    with agent.client() as http:
        wait_for(lambda: http.get(f"/api/v1/ops/{op_id}").json()["state"] != "queued", timeout=15)
        result: dict[str, Any] = http.get(f"/api/v1/ops/{op_id}").json()
        return result


def test_catalogue_marks_what_the_member_can_afford(agent: RunningAgent) -> None:
    with agent.client() as http:
        items = http.get(f"/api/v1/members/{ASA}/point-shop/items").json()["items"]
    assert [i["name"] for i in items] == ["Kaffe och bulle", "Tygkasse i ekologisk bomull", "Spadag för två"]
    assert [i["affordable"] for i in items] == [True, True, False]
    assert items[2]["missingPoints"] == 15000 - 2450
    assert items[0]["description"] == "Hämtas i kassan" and items[0]["validTo"]


def test_purchase_completes_and_deducts_once(agent: RunningAgent, sim: EngageSimulator) -> None:
    op = buy(agent, "coffee", "buy-1")
    assert op["state"] == "completed" and op["kind"] == "point_shop_purchase" and op["itemId"] == item_id("coffee")
    assert list(sim.state.purchases) == [op["purchaseId"]]
    assert balance(sim) == 2450 - 300
    assert buy(agent, "coffee", "buy-1") == op  # same opId: same op, no second purchase
    assert balance(sim) == 2450 - 300
    with agent.client() as http:
        other = http.post(
            f"/api/v1/members/{ASA}/point-shop/purchases", json={"itemId": item_id("tote"), "opId": "buy-1"}
        )
    assert other.status_code == 409


@pytest.mark.parametrize(
    ("item", "reason"), [("spa", "insufficient_points"), ("xmas", "promotion_expired"), ("nothing", "item_not_found")]
)
def test_refused_purchases(agent: RunningAgent, sim: EngageSimulator, item: str, reason: str) -> None:
    op = buy(agent, item)
    assert (op["state"], op["reason"]) == ("rejected", reason)
    assert balance(sim) == 2450 and not sim.state.purchases


def test_reset_after_commit_then_retries_deducts_exactly_once(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/point-shop-items/purchase$"))
    sim.faults.add(FaultRule("error", method="GET", path="/point-shop-item-purchases", times=3))
    op = buy(agent, "coffee", "buy-reset")
    final = settle(agent, "buy-reset") if op["state"] == "queued" else op
    assert final["state"] == "completed"
    assert list(sim.state.purchases) == [op["purchaseId"]] and balance(sim) == 2450 - 300


def test_lost_network_mid_purchase_is_retried_with_the_same_id(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_before", method="POST", path="/point-shop-items/purchase$", times=2))
    sim.faults.add(FaultRule("error", method="GET", path="/point-shop-item-purchases", times=1))
    op = buy(agent, "tote", "buy-lost")
    final = settle(agent, "buy-lost") if op["state"] == "queued" else op
    assert final["state"] == "completed" and final["attempts"] == 3
    assert list(sim.state.purchases) == [op["purchaseId"]]  # one id from first attempt to last
    assert balance(sim) == 2450 - 1200


def test_no_purchase_starts_while_engage_is_offline(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    op = buy(agent, "coffee", "buy-offline")
    assert (op["state"], op["reason"]) == ("rejected", "offline_not_allowed")
    sim.set_offline(False)
    assert buy(agent, "coffee", "buy-offline")["state"] == "rejected"  # the same opId keeps its answer
    assert not sim.state.purchases


def test_history_shows_status(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.settings.purchase_processing_seconds = 0.5
    with agent.client() as http:
        assert http.get(f"/api/v1/members/{ASA}/point-shop/purchases").json() == {"items": []}
        op = buy(agent, "coffee")
        history = http.get(f"/api/v1/members/{ASA}/point-shop/purchases").json()["items"]
        assert [(p["purchaseId"], p["name"], p["status"]) for p in history] == [
            (op["purchaseId"], "Kaffe och bulle", "Processing")
        ]
        wait_for(
            lambda: http.get(f"/api/v1/members/{ASA}/point-shop/purchases").json()["items"][0]["status"] == "Completed",
            timeout=5,
        )


def test_point_shop_receipt(agent: RunningAgent) -> None:
    op = buy(agent, "coffee")
    with agent.client() as http:
        response = http.post("/api/v1/print/point-shop-purchase", json={"contactId": ASA, "opId": op["opId"]})
        assert response.status_code == 200, response.text
        assert (
            http.post(
                "/api/v1/print/point-shop-purchase", json={"contactId": member_id("marta"), "opId": op["opId"]}
            ).status_code
            == 404
        )
    receipt = decode(Path(agent.agent.config.printer.file_path).read_bytes())
    assert receipt.qrs == [f"PS:{op['purchaseId']}"]
    assert receipt.find("Kaffe och bulle") and receipt.find("Points spent").text.endswith("300")
    assert receipt.find("Balance after").text.endswith("2,150")


def test_purchase_id_is_sent_byte_for_byte_on_every_retry() -> None:
    bodies: list[bytes] = []

    def record(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        raise httpx.ReadTimeout("lost", request=request)

    async def main() -> None:
        client = EngageClient("https://t.example", "k", transport=httpx.MockTransport(record))
        executor = PointShopPurchaseCall(client, LoyaltyStatus(3), lambda: 0.0)
        op = Op(
            "o",
            POINT_SHOP_PURCHASE,
            "11111111-2222-4333-8444-555555555555",
            ASA,
            {"itemId": "i1"},
            "SENDING",
            None,
            None,
            False,
            False,
            1,
            0,
            0,
            0,
            0,
            0,
        )
        for _ in range(3):
            assert isinstance(await executor.send(op, []), Unknown)
        await client.aclose()

    asyncio.run(main())
    assert len(set(bodies)) == 1
    assert json.loads(bodies[0])["pointShopItemPurchaseId"] == "11111111-2222-4333-8444-555555555555"
