"""Sales over real HTTP: validation, card-data refusal, delivery as Engage receipts through the outbox."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id
from tests.conftest import RunningAgent, wait_for
from tests.sale_factory import example_sale, line, sale, sale_lines
from tests.test_crash_recovery import engage_agent

ASA = member_id("asa")


@pytest.fixture
def agent(fast_agent: RunningAgent) -> RunningAgent:
    return fast_agent


def post_sale(agent: RunningAgent, body: dict[str, Any]) -> httpx.Response:
    with agent.client() as http:
        return http.post("/api/v1/sales", json=body)


def settled(agent: RunningAgent, op_id: str, timeout: float = 15) -> dict[str, Any]:
    result: dict[str, Any] = {}

    def final() -> bool:
        with agent.client() as http:
            result.update(http.get(f"/api/v1/ops/{op_id}").json())
        return result["state"] != "queued"

    wait_for(final, timeout)
    return result


def with_member(body: dict[str, Any], **member: str) -> dict[str, Any]:
    return {**body, "member": member}


def test_a_sale_is_answered_at_once_and_delivered_as_an_engage_receipt(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    answer = post_sale(agent, with_member(example_sale("S1-T1-0001"), contactId=ASA))
    assert answer.status_code == 202, answer.text
    op = answer.json()
    assert (op["kind"], op["state"], op["receiptId"]) == ("sale_receipt", "queued", "S1-T1-0001")
    assert "Engage has processed" in op["pointsNote"]
    assert settled(agent, op["opId"])["state"] == "delivered"
    receipt = sim.state.receipts["S1-T1-0001"]
    assert receipt["contact"] == {"matchKey": ASA, "matchKeyType": "contactId"}
    assert receipt["storeExternalId"] == "s1" and receipt["createdDate"] == "2026-11-22T10:15:00+01:00"
    # What the customer paid incl. VAT (= Σ payments = Σ grossPaidPrice), not the gross before discounts (244).
    assert receipt["totalGrossPrice"] == 224 and [i["type"] for i in receipt["items"]] == ["PURCHASE", "PURCHASE"]
    assert receipt["items"][0]["grossPaidPrice"] == 75 and receipt["items"][0]["discounts"][0]["value"] == 20
    assert receipt["items"][0]["articleName"] and "description" not in receipt["items"][0]
    assert [p["value"] for p in receipt["paymentMethods"]] == [112, 112]
    assert all("reference" not in p for p in receipt["paymentMethods"])


def test_a_scanned_card_is_matched_by_the_contact_id_it_resolves_to(agent: RunningAgent, sim: EngageSimulator) -> None:
    # Never seen on this till: the outbox resolves the card just before sending ("customKey" is a lookup key,
    # not a receipt matchKeyType: Engage refuses it).
    op = post_sale(agent, with_member(example_sale("S1-T1-0002"), code="2400000010014")).json()
    assert settled(agent, op["opId"])["state"] == "delivered"
    assert sim.state.receipts["S1-T1-0002"]["contact"] == {"matchKey": ASA, "matchKeyType": "contactId"}
    # Seen before (identified at the till): resolved from the cache at once, and the op names the member.
    with agent.client() as http:
        assert http.post("/api/v1/identify", json={"code": "2400000010014"}).status_code == 200
    wait_for(lambda: agent.agent.db.run_sync(lambda c: c.execute("SELECT count(*) FROM scan_keys").fetchone()[0]) > 0)
    seen = post_sale(agent, with_member(example_sale("S1-T1-0022"), code="2400000010014")).json()
    assert seen["contactId"] == ASA
    assert settled(agent, seen["opId"])["state"] == "delivered"
    assert sim.state.receipts["S1-T1-0022"]["contact"] == {"matchKey": ASA, "matchKeyType": "contactId"}


def test_an_unknown_card_on_a_queued_sale_becomes_a_conflict(agent: RunningAgent, sim: EngageSimulator) -> None:
    op = post_sale(agent, with_member(example_sale("S1-T1-0023"), code="9999999999")).json()
    final = settled(agent, op["opId"])
    assert (final["state"], final["reason"]) == ("conflict", "receipt_member_not_found")
    assert "S1-T1-0023" not in sim.state.receipts


def test_points_from_a_receipt_appear_after_engage_processed_it(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.settings.receipt_points_delay = 1.0
    with agent.client() as http:
        before = http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"]
    op = post_sale(agent, with_member(example_sale("S1-T1-0003"), contactId=ASA)).json()
    assert settled(agent, op["opId"])["state"] == "delivered"
    with agent.client() as http:
        assert http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"] == before  # not processed yet
        wait_for(lambda: http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"] == before + 224, 10)


def test_a_return_is_a_receipt_with_return_lines(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.state.settings.receipt_points_delay = 0
    body = sale("S1-T1-R001", [line("7310865004703", 1, Decimal("80.00"), Decimal(0), 25, "return")])
    body["returnReason"] = "x"
    assert post_sale(agent, body).status_code == 422  # unknown fields are refused, not ignored
    del body["returnReason"]
    body["originalReceiptId"] = "S1-T1-0001"  # what fabric needs; Engage has no field for it
    assert body["totals"]["grossAmount"] == -100.0
    op = post_sale(agent, with_member(body, contactId=ASA)).json()
    assert settled(agent, op["opId"])["state"] == "delivered"
    receipt = sim.state.receipts["S1-T1-R001"]
    assert receipt["totalGrossPrice"] == -100 and "originalReceiptId" not in receipt
    assert receipt["items"][0]["type"] == "RETURN" and receipt["items"][0]["quantity"] == -1


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=sale_lines(), split=st.integers(1, 2))
def test_generated_valid_sales_are_accepted(
    agent: RunningAgent, sim: EngageSimulator, lines: list[dict[str, Any]], split: int
) -> None:
    sim.set_offline(True)  # accepted is the question here; delivery is tested below
    answer = post_sale(agent, sale(f"GEN-{uuid.uuid4()}", lines, split=split))
    assert answer.status_code == 202, answer.text


@pytest.mark.parametrize(
    ("field", "rule", "line_no"),
    [
        (("totals", "paidAmount"), "paid", None),
        (("totals", "netAmount"), "net", None),
        (("lines", 1, "unitPrice"), "line_price", 2),
        (("lines", 0, "taxAmount"), "line_net", 1),
        (("payments", 1, "amount"), "payments", None),
    ],
)
def test_a_sale_that_does_not_add_up_is_422_naming_rule_and_line(
    agent: RunningAgent, sim: EngageSimulator, field: tuple[Any, ...], rule: str, line_no: int | None
) -> None:
    body = example_sale("S1-T1-BAD")
    target: Any = body
    for key in field[:-1]:
        target = target[key]
    target[field[-1]] += 1.5
    answer = post_sale(agent, body)
    assert answer.status_code == 422
    error = answer.json()["error"]
    assert error["code"] == "invalid_sale" and error["details"]["rule"] == rule
    assert error["details"]["line"] == line_no
    assert f"rule {rule}" in error["message"] and (line_no is None or f"line {line_no}:" in error["message"])
    with agent.client() as http:
        assert http.get("/api/v1/queue").json()["ops"] == []  # nothing captured
    assert sim.state.receipts == {}


@pytest.mark.parametrize(
    "where",
    [("lines", 0, "name"), ("note",), ("payments", 0, "reference"), ("payments", 0, "method")],
)
def test_card_data_in_free_text_refuses_the_sale_without_echoing_it(
    agent: RunningAgent, sim: EngageSimulator, where: tuple[Any, ...]
) -> None:
    card = "4111 1111 1111 1111"
    body = example_sale("S1-T1-CARD")
    target: Any = body
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = f"paid with {card}"
    answer = post_sale(agent, body)
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "card_data_refused"
    assert "4111" not in answer.text
    with agent.client() as http:
        assert http.get("/api/v1/queue").json()["ops"] == []
    db = agent.agent.paths.database
    assert b"4111" not in db.read_bytes() + (
        db.with_name(db.name + "-wal").read_bytes() if db.with_name(db.name + "-wal").exists() else b""
    )


def test_the_same_receipt_again_is_the_same_op_a_different_sale_under_it_is_409(agent: RunningAgent) -> None:
    body = example_sale("S1-T1-0004")
    first = post_sale(agent, body).json()
    assert post_sale(agent, body).json()["opId"] == first["opId"]
    changed = json.loads(json.dumps(body))
    changed["lines"][0]["name"] = "Annan vara"
    answer = post_sale(agent, changed)
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "sale_conflict"


@pytest.mark.parametrize(
    "body",
    [
        {"receiptId": "x"},
        {**example_sale("S1-T1-0005"), "createdDate": "2026-11-22T10:15:00"},  # no offset
        {**example_sale("S1-T1-0006"), "lines": []},
        {**example_sale("S1-T1-0007"), "currency": "kr"},
        {**example_sale("S1-T1-0008"), "member": {"contactId": ASA, "code": "1"}},
        {**example_sale("S1-T1-0009"), "member": {"contactId": "not-a-guid"}},
        {**example_sale("S1 T1"), "receiptId": "has space"},
    ],
)
def test_malformed_sales_are_clear_errors(agent: RunningAgent, body: dict[str, Any]) -> None:
    answer = post_sale(agent, body)
    assert answer.status_code == 422
    assert answer.json()["error"]["code"] == "invalid_request"


def test_a_sale_made_offline_is_queued_and_delivered_after_healing(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.set_offline(True)
    op = post_sale(agent, with_member(example_sale("S1-T1-0010"), contactId=ASA)).json()
    assert op["state"] == "queued"
    with agent.client() as http:
        assert http.get("/api/v1/queue").json()["pending"] == 1
    sim.set_offline(False)
    assert settled(agent, op["opId"], 20)["state"] == "delivered"
    assert list(sim.state.receipts) == ["S1-T1-0010"]


def test_a_reset_after_engage_stored_it_is_absorbed_by_the_receipt_id(
    agent: RunningAgent, sim: EngageSimulator
) -> None:
    sim.state.settings.receipt_points_delay = 0
    sim.faults.add(FaultRule("reset_after_commit", method="POST", path="/receipts$", times=1))
    with agent.client() as http:
        before = http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"]
    op = post_sale(agent, with_member(example_sale("S1-T1-0011"), contactId=ASA)).json()
    final = settled(agent, op["opId"])
    assert final["state"] == "delivered" and final["attempts"] == 2
    assert sim.state.duplicate_receipts == 1
    with agent.client() as http:
        assert http.get(f"/api/v1/members/{ASA}").json()["points"]["balance"] == before + 224  # credited once


def test_a_refused_receipt_becomes_a_conflict_for_a_person(agent: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("error", method="POST", path="/receipts$", times=None, status=400))
    op = post_sale(agent, example_sale("S1-T1-0012")).json()
    final = settled(agent, op["opId"])
    assert (final["state"], final["reason"]) == ("conflict", "receipt_400")


def test_queued_sale_survives_sigkill_and_is_delivered_exactly_once(tmp_path: Path, sim: EngageSimulator) -> None:
    sim.state.settings.receipt_points_delay = 0
    process = engage_agent(tmp_path, sim.url)
    process.start()
    try:
        process.wait_up()
        sim.set_offline(True)
        headers = {"X-POS-Token": "crash-token-0123456789"}
        body = with_member(example_sale("S1-T1-KILL"), contactId=ASA)
        answer = httpx.post(process.url + "/api/v1/sales", json=body, headers=headers, timeout=10)
        assert answer.json()["error"]["message"].endswith("(storeId: none given or set)")  # this till has none
        body["storeId"] = "s9"
        answer = httpx.post(process.url + "/api/v1/sales", json=body, headers=headers, timeout=10)
        assert answer.json()["state"] == "queued"
        process.kill()
        sim.set_offline(False)
        process.start()
        process.wait_up()
        op_id = answer.json()["opId"]

        def delivered() -> bool:
            got = httpx.get(f"{process.url}/api/v1/ops/{op_id}", headers=headers, timeout=5).json()
            return bool(got["state"] == "delivered")

        wait_for(delivered, 20)
        again = httpx.post(process.url + "/api/v1/sales", json=body, headers=headers, timeout=10).json()
        assert again["opId"] == op_id and again["state"] == "delivered"
    finally:
        process.stop()
    assert list(sim.state.receipts) == ["S1-T1-KILL"] and sim.state.duplicate_receipts == 0
    account = sim.state.account_for(ASA, 1)
    credited = [tx for tx in sim.state.transactions if tx.account_id == account.id and tx.amount == 224]
    assert len(credited) == 1
