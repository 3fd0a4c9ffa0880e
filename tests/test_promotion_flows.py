"""Promotions beyond the redeem call: a point-shop purchase's promotion redeemed in the same visit, the printed
promotion slip, promotions used on a sale in the receipt's ``usedPromotions``, and the simulator's strictness."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.vendors.engage.simulator import (
    EngageSimulator,
    FaultRule,
    assignment_id,
    item_id,
    member_id,
    promotion_id,
    seed_demo_data,
)
from posplugin.vendors.engage.simulator.state import SimError, SimState
from tests.conftest import RunningAgent, wait_for
from tests.receipts.escpos_decoder import decode
from tests.sale_factory import example_sale

ASA, MARTA = member_id("asa"), member_id("marta")
SPRING, FIFTY = assignment_id("asa", "spring20"), assignment_id("asa", "fifty")
FAST = {"retry_min_seconds": 0.1, "retry_max_seconds": 0.3, "cashier_wait": 2.0}


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(offline=FAST)
    return running


def post(agent: RunningAgent, path: str, body: dict[str, Any]) -> httpx.Response:
    with agent.client() as http:
        return http.post(path, json=body)


def get(agent: RunningAgent, path: str) -> dict[str, Any]:
    with agent.client() as http:
        response = http.get(path)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def settles(agent: RunningAgent, op_id: str) -> dict[str, Any]:
    wait_for(lambda: get(agent, f"/api/v1/ops/{op_id}")["state"] != "queued", timeout=15)
    return get(agent, f"/api/v1/ops/{op_id}")


# ---- the point shop ----------------------------------------------------------------------------------------


def test_a_point_shop_purchase_assigns_a_promotion_that_is_redeemed_in_the_same_visit(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    before = {p["id"] for p in get(agent, f"/api/v1/members/{MARTA}")["promotions"]}
    bought = post(agent, f"/api/v1/members/{MARTA}/point-shop/purchases", {"itemId": item_id("coffee")}).json()
    assert bought["state"] == "completed", bought
    offers = get(agent, f"/api/v1/members/{MARTA}")["promotions"]
    new = [p for p in offers if p["id"] not in before]
    assert [p["promotionId"] for p in new] == [promotion_id("coffee")]
    assert new[0]["valueText"] == "Kaffe och bulle" and new[0]["instruction"].startswith("Lämna ut kaffe")
    op = post(agent, f"/api/v1/promotions/{new[0]['id']}/redeem", {"contactId": MARTA}).json()
    assert (op["state"], op["promotionId"]) == ("redeemed", promotion_id("coffee"))
    assert sim.state.promotions.redeem_commits == {new[0]["id"]: 1}
    # The purchase's idempotent repeat (the same purchase id) assigns nothing more.
    sim.state.purchase(
        {"contactId": MARTA, "pointShopItemPurchaseId": bought["purchaseId"], "pointShopItemId": item_id("coffee")}
    )
    assert [a.id for a in sim.state.promotions.assignments.values() if a.contact_id == MARTA].count(new[0]["id"]) == 1


def test_a_purchase_whose_answer_was_lost_assigns_one_promotion(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/point-shop-items/purchase$"))
    bought = post(agent, f"/api/v1/members/{MARTA}/point-shop/purchases", {"itemId": item_id("tote")}).json()
    final = settles(agent, bought["opId"]) if bought["state"] == "queued" else bought
    assert final["state"] == "completed"
    totes = [
        a
        for a in sim.state.promotions.assignments.values()
        if a.contact_id == MARTA and a.promotion_id == promotion_id("tote")
    ]
    assert len(totes) == 1


# ---- the promotion slip ------------------------------------------------------------------------------------


def printed(agent: RunningAgent) -> Any:
    path = Path(agent.agent.config.printer.file_path)
    wait_for(lambda: path.exists() and path.stat().st_size > 0)
    receipt = decode(path.read_bytes())
    path.write_bytes(b"")
    return receipt


def test_the_promotion_slip_shows_the_offer_and_prints_as_used_once_redeemed(agent: RunningAgent) -> None:
    get(agent, f"/api/v1/members/{ASA}")
    answer = post(agent, "/api/v1/print/promotion", {"contactId": ASA, "assignmentId": FIFTY})
    assert answer.status_code == 200, answer.text
    slip = printed(agent)
    assert slip.find("OFFER").width == 2 and slip.find("50 kr rabatt").bold
    assert slip.find("Offer").text.endswith("50.00 SEK") and slip.find("Valid until")
    assert slip.find("At the till").bold and slip.find("Dra av 50 kr")
    assert slip.find(FIFTY) and "REDEEMED" not in slip.text()
    assert post(agent, f"/api/v1/promotions/{FIFTY}/redeem", {"contactId": ASA}).json()["state"] == "redeemed"
    assert post(agent, "/api/v1/print/promotion", {"contactId": ASA, "assignmentId": FIFTY}).status_code == 200
    used = printed(agent)
    assert used.find("REDEEMED").width == 2 and used.find("Cannot be used again")
    assert used.find("50 kr rabatt")  # gone from the member's view, known from the till's own redemption


def test_a_promotion_of_nobody_on_screen_is_not_printed(agent: RunningAgent) -> None:
    for body in (
        {"contactId": MARTA, "assignmentId": FIFTY},  # Åsa's, not Märta's
        {"contactId": ASA, "assignmentId": "00000000-0000-4000-8000-000000000000"},
    ):
        answer = post(agent, "/api/v1/print/promotion", body)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "promotion_not_found", answer.text
    assert post(agent, "/api/v1/print/promotion", {"contactId": ASA, "assignmentId": "x"}).status_code == 422


def test_a_promotion_redeemed_elsewhere_prints_as_used(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.promotions.redeem_elsewhere(SPRING)
    assert post(agent, "/api/v1/print/promotion", {"contactId": ASA, "assignmentId": SPRING}).status_code == 200
    assert printed(agent).find("REDEEMED")


# ---- promotions used on a sale -----------------------------------------------------------------------------


def sale(receipt_id: str, used: list[dict[str, str]], contact: str = ASA) -> dict[str, Any]:
    return {**example_sale(receipt_id), "member": {"contactId": contact}, "usedPromotions": used}


def test_promotions_used_on_a_sale_go_in_the_receipts_used_promotions(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    assert post(agent, f"/api/v1/promotions/{SPRING}/redeem", {"contactId": ASA}).json()["state"] == "redeemed"
    get(agent, f"/api/v1/members/{ASA}")  # the cached view knows FIFTY's promotionId
    used = [
        {"assignmentId": SPRING},  # redeemed at this till: its promotionId is the op's
        {"assignmentId": FIFTY.upper()},  # in the member's view
        {"assignmentId": assignment_id("marta", "fifty"), "promotionId": promotion_id("fifty")},  # given
    ]
    op = post(agent, "/api/v1/sales", sale("S1-T1-P001", used)).json()
    assert settles(agent, op["opId"])["state"] == "delivered"
    assert sim.state.receipts["S1-T1-P001"]["usedPromotions"] == [
        {"promotionId": promotion_id("spring20"), "couponId": SPRING},
        {"promotionId": promotion_id("fifty"), "couponId": FIFTY},
        {"promotionId": promotion_id("fifty"), "couponId": assignment_id("marta", "fifty")},
    ]


def test_a_used_promotion_the_agent_cannot_name_is_refused_before_capture(agent: RunningAgent) -> None:
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = post(agent, "/api/v1/sales", sale("S1-T1-P002", [{"assignmentId": unknown}]))
    assert answer.status_code == 422 and "usedPromotions[1]" in answer.json()["error"]["message"]
    for bad in (
        {"assignmentId": "not-a-guid"},
        {"promotionId": promotion_id("fifty")},
        {"assignmentId": SPRING, "x": 1},
    ):
        response = post(agent, "/api/v1/sales", sale("S1-T1-P003", [bad]))  # type: ignore[list-item]
        assert response.status_code == 422, (bad, response.text)
    assert get(agent, "/api/v1/queue")["ops"] == []


@pytest.mark.parametrize(
    ("used", "problem"),
    [
        ({"promotionId": "x"}, "GUID"),
        ("not a list", "array"),
        (["x"], "not an object"),
        ([{"couponId": SPRING}], "GUID"),  # no promotionId
        ([{"promotionId": promotion_id("spring20"), "couponId": SPRING, "amount": 5}], "unknown field"),
        ([{"promotionId": promotion_id("fifty"), "couponId": SPRING}], "not of that promotion"),
    ],
)
def test_the_simulator_refuses_a_malformed_used_promotions(used: Any, problem: str) -> None:
    state = seed_demo_data(SimState())
    body = {
        "uniqueReceiptId": "R-P",
        "createdDate": "2026-11-22T10:15:00+01:00",
        "storeExternalId": "s1",
        "currency": "SEK",
        "totalGrossPrice": 100,
        "paymentMethods": [{"type": "card", "value": 100}],
        "items": [{"type": "PURCHASE", "sku": "1", "articleName": "Vara", "quantity": 1, "grossPaidPrice": 100}],
        "usedPromotions": used if not isinstance(used, dict) else [used],
    }
    with pytest.raises(SimError) as refused:
        state.receipt(body)
    assert refused.value.status == 400 and problem in refused.value.message
    assert state.receipts == {}
    body["usedPromotions"] = [{"promotionId": promotion_id("spring20"), "couponId": SPRING}]
    assert state.receipt(body)[0] == 202


# ---- the simulator's promotion semantics -------------------------------------------------------------------


def test_the_simulator_redeem_codes_and_list() -> None:
    state = seed_demo_data(SimState())
    book = state.promotions

    def code(assignment: str, body: Any) -> tuple[int, str]:
        with pytest.raises(SimError) as refused:
            book.check_redeemable(assignment, body)
        return refused.value.status, refused.value.code

    pos = {"redemptionChannel": "POS"}
    assert code("nope", pos) == (400, "InvalidPromotionIdNoData")
    assert code(SPRING, {"redemptionChannel": "SHOP"}) == (400, "NotAValidRedemptionChannel")
    assert code(SPRING, None) == (400, "NotAValidRedemptionChannel")
    assert code("00000000-0000-4000-8000-000000000000", pos) == (404, "PromotionNotFound")
    assert code(assignment_id("asa", "webfreight"), pos) == (409, "PromotionNotValidForRedemptionChannel")
    assert code(assignment_id("bjorn", "spring20"), pos) == (409, "PromotionAlreadyRedeemed")
    assert code(assignment_id("asa", "coffee"), pos) == (404, "PromotionNotFound")  # ended
    del state.contacts[MARTA]
    assert code(assignment_id("marta", "fifty"), pos) == (404, "PromotionNotAssociatedWithContact")
    listed = {p["promotionId"] for p in book.list_for(ASA, {"redemptionChannelType": "POS"})}
    assert promotion_id("webfreight") not in listed and promotion_id("coffee") in listed  # the client filters
    assert promotion_id("webfreight") in {p["promotionId"] for p in book.list_for(ASA, {})}
    with pytest.raises(SimError):
        book.list_for(ASA, {"redemptionChannelType": "pos"})
    book.commit_redeem(SPRING, "POS")
    with pytest.raises(SimError):
        book.commit_redeem(SPRING, "POS")  # a second commit is refused under the lock
    assert book.redeem_commits == {SPRING: 1}
