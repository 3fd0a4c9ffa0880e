"""The reward receipt (``POST /api/v1/print/reward``) on the fabric backend, read back from the file printer: what
a redeemed reward prints, and every way a print is refused."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.receipts import formatting as fmt
from posplugin.vendors.fabric.simulator import FabricSimulator
from posplugin.vendors.faults import FaultRule
from tests.conftest import RunningAgent, fabric_agent, wait_for
from tests.fabric.conftest import ANNA, ERIK, SARA
from tests.receipts.escpos_decoder import decode

RECEIPT = {"header": ["Butik Centrum"], "footer": ["Tack för besöket"]}


@pytest.fixture
def agent(tmp_path: Path, fabric: FabricSimulator) -> Iterator[RunningAgent]:
    running = fabric_agent(tmp_path, fabric, receipt=RECEIPT)
    yield running
    running.stop()


def printed(agent: RunningAgent) -> bytes:
    return Path(agent.agent.config.printer.file_path).read_bytes()


def settled(http: httpx.Client, op: dict[str, Any]) -> dict[str, Any]:
    found = dict(op)

    def done() -> bool:
        found.update(http.get(f"/api/v1/ops/{op['opId']}").json())
        return found["state"] != "queued"

    wait_for(done, 15)
    return found


def reward(http: httpx.Client, member: str, amount: str, op_id: str) -> dict[str, Any]:
    op = http.post(f"/api/v1/members/{member}/rewards", json={"amount": amount, "opId": op_id})
    assert op.status_code == 200, op.text
    return settled(http, op.json())


def print_reward(http: httpx.Client, member: str, op_id: str) -> httpx.Response:
    return http.post("/api/v1/print/reward", json={"contactId": member, "opId": op_id})


def test_a_redeemed_reward_prints_its_value_and_its_code_as_qr_and_text(agent: RunningAgent) -> None:
    with agent.client() as http:
        op = reward(http, ANNA, "50", "rw-print")
        assert op["state"] == "redeemed"
        answer = print_reward(http, ANNA, "rw-print")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["printed"] is True and body["bytes"] == len(printed(agent)) and isinstance(body["jobId"], int)
    receipt = decode(printed(agent))
    code = op["redemptionCode"]
    assert receipt.qrs == [code] and receipt.barcodes == []
    assert receipt.find(code).align == "center"
    text = receipt.text()
    for expected in ("Butik Centrum", "Tack för besöket", "REWARD", "Anna Lind", "Store s1 · Till t1"):
        assert expected in text, expected
    assert "50.00" in receipt.find("Value").text and receipt.find("Value").bold
    assert "*********0011" in text  # the member number masked, as on every receipt
    assert receipt.cuts == ["partial"]


def test_reprint_gives_the_same_reward_slip_again(agent: RunningAgent) -> None:
    with agent.client() as http:
        reward(http, ANNA, "12.50", "rw-again")
        first = print_reward(http, ANNA, "rw-again").json()["bytes"]
        assert http.post("/api/v1/print/reprint", json={"contactId": ANNA}).status_code == 200
    receipt = decode(printed(agent))
    assert len(printed(agent)) == 2 * first and len(receipt.qrs) == 2


def test_the_slip_is_in_the_agent_s_language(tmp_path: Path, fabric: FabricSimulator) -> None:
    running = fabric_agent(tmp_path, fabric, agent={"language": "sv"})
    try:
        with running.client() as http:
            assert reward(http, ANNA, "99.5", "rw-sv")["state"] == "redeemed"
            assert print_reward(http, ANNA, "rw-sv").status_code == 200
        text = decode(printed(running)).text()
        assert "BELÖNING" in text and "99,50" in text and "Inlösenkod" in text
    finally:
        running.stop()


def test_unknown_ops_and_other_members_ops_are_not_found(agent: RunningAgent) -> None:
    with agent.client() as http:
        reward(http, ANNA, "10.00", "rw-anna")
        for member, op_id in ((ANNA, "rw-nobody"), (ERIK, "rw-anna")):
            answer = print_reward(http, member, op_id)
            assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found", (member, op_id)
        undo = http.post("/api/v1/ops/rw-anna/undo").json()
        answer = print_reward(http, ANNA, undo["opId"])  # an undo is not a reward
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_found"
        for body in ({"contactId": ANNA}, {"opId": "rw-anna"}, {"contactId": ANNA, "opId": "no spaces"}):
            assert http.post("/api/v1/print/reward", json=body).status_code == 422, body
    assert not Path(agent.agent.config.printer.file_path).exists()  # nothing was printed on the way


def test_a_rejected_reward_is_not_printed(agent: RunningAgent) -> None:
    with agent.client() as http:
        op = reward(http, SARA, "500.00", "rw-poor")
        assert op["state"] == "rejected" and op["reason"] == "insufficient_points"
        answer = print_reward(http, SARA, "rw-poor")
    assert answer.status_code == 409 and answer.json()["error"]["code"] == "not_completed"
    assert "not redeemed yet" in answer.json()["error"]["message"]


def test_a_reward_still_on_its_way_is_not_printed_until_it_is_redeemed(tmp_path: Path, fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("latency", method="POST", path="/v1/redeem/reward/issue", delay=1.5))
    running = fabric_agent(tmp_path, fabric, offline={"cashier_wait": 0.2})
    try:
        with running.client() as http:
            op = http.post(f"/api/v1/members/{ANNA}/rewards", json={"amount": "20.00", "opId": "rw-slow"}).json()
            assert op["state"] == "queued"
            early = print_reward(http, ANNA, "rw-slow")
            assert early.status_code == 409 and early.json()["error"]["code"] == "not_completed"
            assert settled(http, op)["state"] == "redeemed"
            assert print_reward(http, ANNA, "rw-slow").status_code == 200
    finally:
        running.stop()


def test_an_undone_reward_prints_as_undone_without_its_qr_code(agent: RunningAgent) -> None:
    with agent.client() as http:
        op = reward(http, ANNA, "40.00", "rw-undo")
        undo = settled(http, http.post("/api/v1/ops/rw-undo/undo").json())
        assert undo["state"] == "completed"
        assert print_reward(http, ANNA, "rw-undo").status_code == 200
    receipt = decode(printed(agent))
    assert receipt.qrs == [] and "UNDONE" in receipt.text() and "Not valid for payment" in receipt.text()
    assert op["redemptionCode"] in receipt.text()  # still there to look it up


def test_the_balance_slip_on_fabric_has_no_voucher_list_and_shows_points_of_other_stores(
    agent: RunningAgent,
) -> None:
    with agent.client() as http:
        assert http.post("/api/v1/print/balance", json={"contactId": ERIK}).status_code == 200
    text = decode(printed(agent)).text()
    assert "400 points usable only at store-002" in text
    assert "Vouchers" not in text and "No vouchers" not in text


def test_on_engage_the_reward_receipt_is_not_supported(running: RunningAgent) -> None:
    with running.client() as http:
        answer = http.post("/api/v1/print/reward", json={"contactId": ANNA, "opId": "rw-1"})
    assert answer.status_code == 404 and answer.json()["error"]["code"] == "not_supported"


@given(st.decimals(min_value="0.01", max_value="100000", places=2))
def test_a_reward_amount_is_written_with_two_decimals_and_grouped_digits(value: Decimal) -> None:
    en, sv = fmt.amount(value, "en"), fmt.amount(value, "sv")
    assert en.replace(",", "") == f"{value:.2f}"
    assert sv.replace(" ", "").replace(",", ".") == f"{value:.2f}"
    whole = en.split(".")[0]
    assert all(len(group) == 3 for group in whole.split(",")[1:]) and sv.split(",")[0].split(" ") == whole.split(",")
