"""The panel never shows or acts on the wrong customer (issue items 1-6), in Chromium at 800×600."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from posplugin.vendors.engage.simulator.state import Voucher
from tests.conftest import RunningAgent, wait_for
from tests.receipts.escpos_decoder import decode
from tests.ui.panel_helpers import SMALL, open_panel, scan, shot

pytestmark = pytest.mark.browser
ASA_CARD, MARTA_CARD, BJORN_CARD = "2400000010014", "2400000010038", "2400000010021"


def test_a_failed_scan_clears_the_previous_member(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    scan(page, "2400000099999")  # a card Engage does not know
    expect(page.locator("#message")).to_have_text("No member found for this card.")
    expect(page.locator("#member")).to_be_hidden()
    expect(page.locator("button.redeem")).to_have_count(0)
    shot(page, "panel-failed-scan-cleared")

    scan(page, MARTA_CARD)
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    scan(page, "hello world")  # not a member code at all
    expect(page.locator("#message")).to_contain_text("not a member card")
    expect(page.locator("#member")).to_be_hidden()

    scan(page, MARTA_CARD)
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    sim.set_offline(True)
    scan(page, BJORN_CARD)  # offline, and never seen on this till
    expect(page.locator("#message")).to_contain_text("Offline")
    expect(page.locator("#member")).to_be_hidden()
    expect(page.locator("#member-name")).to_have_text("")


def test_next_customer_button_and_idle_timeout_empty_the_screen(page: Any, agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(agent={"panel_idle_seconds": 1.5})
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    page.locator("#next-customer").click()
    expect(page.locator("#member")).to_be_hidden()
    expect(page.locator("#message")).to_have_text("Ready for the next customer")
    expect(page.locator("#scan")).to_be_focused()

    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    page.locator("#open-search").click()
    page.keyboard.type("+4670")  # a half-typed phone number, then the customer walks away
    expect(page.locator("#member")).to_be_hidden(timeout=5_000)  # nobody touched the till for 1.5 s
    expect(page.locator("#points-balance")).to_have_text("")
    expect(page.locator("#search-form")).to_be_hidden()
    assert page.locator("#search-value").input_value() == ""
    expect(page.locator("#scan")).to_be_focused()


def test_the_idle_timeout_defaults_to_90_seconds(page: Any, running: RunningAgent) -> None:
    page.goto(running.base_url + "/")
    assert page.locator('meta[name="pos-idle-seconds"]').get_attribute("content") == "90"


def test_a_vanished_voucher_is_marked_in_place_rows_never_move(
    page: Any, fast_agent: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, fast_agent, SMALL)
    scan(page, ASA_CARD)
    rows = page.locator("#vouchers li")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Födelsedagscheck 50 kr")
    expect(rows.nth(1)).to_contain_text("Bonuscheck 195 kr")
    # Another till takes the first voucher; this till's redemption of the second refreshes the member.
    httpx.post(f"{sim.control_url}/_sim/redeem-elsewhere", json={"voucherId": voucher_id("asa", 2)})
    rows.nth(1).locator("button.redeem").click()
    expect(rows.nth(1).locator(".op-state")).to_have_text("Redeemed")
    expect(rows.nth(0)).to_contain_text("No longer available")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Födelsedagscheck 50 kr")  # same place
    expect(rows.nth(0).locator("button.redeem, button.print")).to_have_count(0)  # nothing to press on it
    shot(page, "panel-voucher-gone")
    scan(page, ASA_CARD)  # a new scan re-orders: the vanished one goes
    expect(rows).to_have_count(1)


def test_reprint_prints_only_the_member_on_screen(page: Any, running: RunningAgent) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#reprint")).to_be_disabled()  # nothing printed for her yet
    page.locator("#print-balance").click()
    expect(page.locator("#message")).to_have_text("Printed")
    expect(page.locator("#reprint")).to_be_enabled()
    scan(page, MARTA_CARD)
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    expect(page.locator("#reprint")).to_be_disabled()
    with running.client() as http:
        refused = http.post("/api/v1/print/reprint", json={"contactId": member_id("marta")})
        assert refused.status_code == 409
        assert refused.json()["error"]["code"] == "nothing_to_reprint_member"
    printer = Path(running.agent.config.printer.file_path)
    printer.write_bytes(b"")
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    page.locator("#reprint").click()
    wait_for(lambda: printer.stat().st_size > 0)
    text = decode(printer.read_bytes()).text()
    assert "Åsa Öberg" in text and "Märta" not in text


def test_a_redeemed_or_queued_voucher_prints_as_used(page: Any, agent_factory: Any, sim: EngageSimulator) -> None:
    running: RunningAgent = agent_factory(offline={"cashier_wait": 0.5})
    printer = Path(running.agent.config.printer.file_path)
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    rows = page.locator("#vouchers li")
    first, second = rows.nth(0), rows.nth(1)
    first.locator("button.redeem").click()
    expect(first.locator(".op-state")).to_have_text("Redeemed")
    printer.write_bytes(b"")
    first.locator("button.print").click()
    expect(page.locator("#message")).to_have_text("Printed")
    receipt = decode(printer.read_bytes())
    assert "REDEEMED" in receipt.text() and receipt.barcodes == []

    sim.faults.add(FaultRule("slow_commit", method="POST", path="/redeem$", delay=3.0))
    second.locator("button.redeem").click()
    expect(second.locator(".op-state")).to_have_text("Queued — will be sent later")
    printer.write_bytes(b"")
    second.locator("button.print").click()
    wait_for(lambda: printer.stat().st_size > 0)
    receipt = decode(printer.read_bytes())
    assert "REDEEMED" in receipt.text() and receipt.barcodes == []
    shot(page, "panel-used-voucher-printed")


def test_a_valid_voucher_still_prints_its_barcode(page: Any, running: RunningAgent) -> None:
    open_panel(page, running)
    scan(page, ASA_CARD)
    row = page.locator("#vouchers li").filter(has_text="Bonuscheck 195 kr")
    row.locator("button.print").click()
    expect(page.locator("#message")).to_have_text("Printed")
    receipt = decode(Path(running.agent.config.printer.file_path).read_bytes())
    assert receipt.barcodes == [("CODE128", "2511233093766")] and "REDEEMED" not in receipt.text()


def test_a_scan_while_a_confirm_is_open_never_confirms_it(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    page.locator("#open-shop").click()
    coffee = page.locator("#shop li").filter(has_text="Kaffe och bulle")
    coffee.locator("button.buy").click()
    confirm = coffee.locator("button.confirm-buy")
    expect(confirm).to_be_visible()
    confirm.focus()  # the worst case: the confirm button has focus when the wedge scanner types
    scan(page, MARTA_CARD)
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    expect(page.locator("button.confirm-buy")).to_have_count(0)
    assert sim.state.active_balance(member_id("asa"), 1) == 2450
    assert not any(p.contact_id == member_id("asa") for p in sim.state.purchases.values())


def test_a_tap_on_a_blank_area_never_truncates_the_next_scan(page: Any, running: RunningAgent) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    page.mouse.click(5, 590)  # the bottom corner: no button, no field
    page.keyboard.type(BJORN_CARD)  # the scanner types at once
    page.keyboard.press("Enter")
    expect(page.locator("#member-name")).to_have_text("Björn Ängström")
    expect(page.locator("#scan")).to_be_focused()


def test_a_voucher_in_a_non_iso_currency_does_not_hide_the_member(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    vid = "0b5d7c1e-1111-4a2b-9c3d-000000000001"
    sim.state.vouchers[vid] = Voucher(
        vid, member_id("asa"), "777000111", "Bonuspoäng", 10, "BONUS", sim.state.now() + timedelta(days=9), 0
    )
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    row = page.locator("#vouchers li").filter(has_text="Bonuspoäng")
    expect(row).to_contain_text("10.00 BONUS")
    expect(page.locator("#vouchers li")).to_have_count(3)
