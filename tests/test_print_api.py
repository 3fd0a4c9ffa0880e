"""Printing through the agent's API: receipts decoded from the file printer, and printers that fail."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import httpx

from posplugin.vendors.engage.simulator import EngageSimulator, member_id, voucher_id
from tests.conftest import RunningAgent
from tests.receipts.escpos_decoder import decode

ASA = member_id("asa")


def post(agent: RunningAgent, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
    with agent.client() as http:
        return http.post(path, json=body or {})


def printed(agent: RunningAgent) -> bytes:
    return Path(agent.agent.config.printer.file_path).read_bytes()


def test_voucher_receipt_reaches_the_printer(running: RunningAgent) -> None:
    post(running, "/api/v1/identify", {"code": "2400000010014"})
    response = post(running, "/api/v1/print/voucher", {"contactId": ASA, "voucherId": voucher_id("asa", 1)})
    assert response.status_code == 200, response.text
    assert response.json()["printed"] is True
    receipt = decode(printed(running))
    assert receipt.barcodes == [("CODE128", "2511233093766")]
    assert receipt.find("Åsa Öberg") and receipt.cuts == ["partial"]
    assert response.json()["bytes"] == len(printed(running))


def test_voucher_receipt_after_redemption_and_without_a_cached_view(running: RunningAgent) -> None:
    assert (
        post(running, f"/api/v1/vouchers/{voucher_id('marta', 1)}/redeem", {"contactId": member_id("marta")}).json()[
            "state"
        ]
        == "redeemed"
    )
    response = post(
        running, "/api/v1/print/voucher", {"contactId": member_id("marta"), "voucherId": voucher_id("marta", 1)}
    )
    assert response.status_code == 200, response.text
    assert decode(printed(running)).find("Bonuscheck 500 kr")


def test_unknown_voucher_and_bad_ids(running: RunningAgent) -> None:
    response = post(running, "/api/v1/print/voucher", {"contactId": ASA, "voucherId": voucher_id("marta", 1)})
    assert response.status_code == 404 and response.json()["error"]["code"] == "voucher_not_found"
    assert post(running, "/api/v1/print/voucher", {"contactId": ASA, "voucherId": "x"}).status_code == 422


def test_balance_slip_reprint_test_page_and_drawer(running: RunningAgent) -> None:
    assert post(running, "/api/v1/print/reprint").json()["error"]["code"] == "nothing_to_reprint"
    assert post(running, "/api/v1/print/balance", {"contactId": ASA}).status_code == 200
    assert post(running, "/api/v1/print/reprint").status_code == 200
    assert post(running, "/api/v1/print/test").status_code == 200
    assert post(running, "/api/v1/drawer/open").status_code == 200
    receipt = decode(printed(running))
    assert receipt.text().count("Points awarded") == 0
    assert receipt.text().count("POINT BALANCE") == 2  # the slip and its reprint
    assert "TEST PRINT" in receipt.text() and receipt.pulses == [(0, 50, 50)]
    with running.client() as http:
        assert http.get("/api/v1/health").json()["printer"] == {"status": "ready", "backend": "file"}


def test_printer_that_is_off_gives_a_clear_error_and_the_agent_stays_responsive(agent_factory: Any) -> None:
    agent = agent_factory(printer={"backend": "serial", "serial_port": "/dev/posplugin-no-printer", "timeout": 0.5})
    results: dict[str, Any] = {}

    def print_it() -> None:
        started = time.monotonic()
        results["response"] = post(agent, "/api/v1/print/balance", {"contactId": ASA})
        results["elapsed"] = time.monotonic() - started

    worker = threading.Thread(target=print_it)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    with agent.client() as http:
        health = http.get("/api/v1/health").json()
    assert time.monotonic() - started < 1.0  # printing never blocks the event loop
    assert health["status"] == "warning" and any("printer" in reason for reason in health["reasons"])
    worker.join(10)
    response = results["response"]
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "printer_offline"
    # Known to be off before anything is queued: told at once, and nothing comes out of it later.
    assert response.json()["error"]["message"] == "The printer is off or not connected."
    assert results["elapsed"] < 1.5
    assert agent.agent.receipts.queue.waiting == 0


def test_no_printer_configured(agent_factory: Any) -> None:
    agent = agent_factory(printer={"backend": "none"})
    response = post(agent, "/api/v1/print/test")
    assert response.status_code == 409 and response.json()["error"]["code"] == "printer_not_configured"


def test_print_calls_need_json_and_the_token(running: RunningAgent, sim: EngageSimulator) -> None:
    with httpx.Client(base_url=running.base_url) as http:
        assert http.post("/api/v1/print/test", json={}).status_code == 401
        token = {"X-POS-Token": running.token}
        text = http.post("/api/v1/print/test", headers={**token, "Content-Type": "text/plain"}, content=b"{}")
        assert text.status_code == 415
        # No body at all needs no Content-Type: what a generated client sends for a call without a body.
        assert http.post("/api/v1/print/test", headers=token).json()["printed"] is True


def test_a_code_page_the_profile_lacks_is_a_clear_error_not_a_crash(agent_factory: Any) -> None:
    agent = agent_factory(printer={"codepage": "CP999"})
    response = post(agent, "/api/v1/print/test")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "printer_config"
    assert "CP999" in response.json()["error"]["message"]
    with agent.client() as http:
        assert http.get("/api/v1/health").json()["status"] == "ok"
