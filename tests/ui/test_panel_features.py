"""Day-one features at the till: search by phone or e-mail, point history, undo a redemption, the voucher
number (issue items 14-17)."""

from __future__ import annotations

import logging
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, member_id, voucher_id
from tests.conftest import RunningAgent, wait_for
from tests.receipts.escpos_decoder import decode
from tests.ui.panel_helpers import SMALL, open_panel, scan, shot

pytestmark = pytest.mark.browser
ASA_CARD = "2400000010014"


def search(page: Any, value: str) -> None:
    page.locator("#open-search").click()
    expect(page.locator("#search-value")).to_be_focused()
    page.keyboard.type(value)
    page.keyboard.press("Enter")


def test_search_by_e_mail_or_phone_number(page: Any, running: RunningAgent, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    open_panel(page, running)
    search(page, "Asa.Oberg@example.se")
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#scan")).to_be_focused()  # back to scanning
    search(page, "+46 70-123 45 03")
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    shot(page, "panel-search")
    search(page, "+46 70 000 00 00")
    expect(page.locator("#message")).to_have_text("No member found with this phone number or e-mail.")
    expect(page.locator("#member")).to_be_hidden()
    # The agent's own lines (httpx's request lines are silenced in production: log_redaction.QUIET_LOGGERS).
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("posplugin"))
    assert "search by email: member" in logged and "search by mobilePhone" in logged
    for personal in ("oberg", "example.se", "1234503", "123 45 03", "0000000"):
        assert personal not in logged.lower()


def test_search_refuses_what_cannot_be_a_phone_or_e_mail(running: RunningAgent) -> None:
    with running.client() as http:
        answer = http.post("/api/v1/identify", json={"code": "not an address", "lookupKey": "email"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_email"
        answer = http.post("/api/v1/identify", json={"code": "call me", "lookupKey": "mobilePhone"})
        assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_mobilePhone"
        answer = http.post("/api/v1/identify", json={"code": "x", "lookupKey": "customKey"})
        assert answer.status_code == 422


def test_point_history_with_pending_and_expiring_points(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    account = sim.state.account_for(member_id("asa"), 1)
    now = sim.state.now()
    sim.state._add_tx(
        account.id,
        150,
        "Addition",
        "@@(Bonus.Points) - Kampanj",
        "Campaign",
        now - timedelta(days=2),
        valid_to=now + timedelta(days=40),
    )
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#points-expire")).to_contain_text("Points expire")
    page.locator("#open-history").click()
    rows = page.locator("#history li")
    expect(rows).to_have_count(3)
    pending = rows.filter(has_text="Jeans")
    expect(pending).to_contain_text("Points awarded from purchase - Jeans")
    expect(pending).to_contain_text("+300")
    expect(pending).to_contain_text("Active from")
    expiring = rows.filter(has_text="Kampanj")
    expect(expiring).to_contain_text("Expires")
    expect(rows.filter(has_text="Välkomstbonus")).to_contain_text("+2,450")
    assert "@@" not in page.locator("#history").inner_text()
    shot(page, "panel-point-history")


def test_undo_a_redemption_made_at_this_till(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    rows = page.locator("#vouchers li")
    expect(rows.nth(0).locator("button.undo")).to_have_count(0)  # nothing redeemed here yet: nothing to undo
    rows.nth(0).locator("button.redeem").click()
    expect(rows.nth(0).locator(".op-state")).to_have_text("Redeemed")
    rows.nth(0).locator("button.undo").click()
    expect(rows.nth(0)).to_contain_text("Undo the redemption?")
    shot(page, "panel-undo-confirm")
    rows.nth(0).locator("button.confirm-undo").click()
    expect(rows.nth(0)).to_contain_text("Reactivated — valid again")
    expect(rows.nth(0).locator("button.redeem")).to_be_enabled()
    assert sim.state.vouchers[voucher_id("asa", 2)].redeemed_on is None
    assert sim.state.vouchers[voucher_id("asa", 2)].reactivations == 1
    printer = Path(running.agent.config.printer.file_path)
    printer.write_bytes(b"")
    rows.nth(0).locator("button.print").click()  # valid again: its slip has the barcode again
    wait_for(lambda: printer.stat().st_size > 0)
    receipt = decode(printer.read_bytes())
    assert "REDEEMED" not in receipt.text() and receipt.barcodes == [("CODE128", "2511233093767")]


def test_the_voucher_number_is_shown_and_copies(page: Any, browser: Any, running: RunningAgent) -> None:
    browser.grant_permissions(["clipboard-read", "clipboard-write"], origin=running.base_url)
    open_panel(page, running)
    scan(page, ASA_CARD)
    row = page.locator("#vouchers li").filter(has_text="Bonuscheck 195 kr")
    expect(row.locator(".voucher-number")).to_contain_text("No. 2511233093766")
    row.locator("button.copy").click()
    expect(row.locator("button.copy")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == "2511233093766"
    expect(page.locator("#scan")).to_be_focused()
