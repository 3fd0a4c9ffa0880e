"""The cashier panel in a real browser: scan by keyboard wedge, offline view, serial scan over SSE."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, member_id
from tests.conftest import RunningAgent, wait_for

SHOTS = Path(__file__).resolve().parents[2] / "build" / "screenshots"


def shot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_typed_card_shows_member_then_offline_cache(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    page.goto(running.base_url + "/")
    scan = page.locator("#scan")
    expect(scan).to_be_focused()
    expect(page.locator("#statusbar")).to_have_class("status online")
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#member-number")).to_have_text("Member no 1000001")
    expect(page.locator("#points-balance")).to_have_text("2,450")
    expect(page.locator("#points-pending")).to_have_text("300")
    vouchers = page.locator("#vouchers li")
    expect(vouchers).to_have_count(2)
    expect(vouchers.nth(1)).to_contain_text("Bonuscheck 195 kr")
    expect(vouchers.nth(1)).to_contain_text("195.00 SEK")  # as the receipt writes it
    expect(vouchers.nth(1)).to_contain_text("€19.50")
    expect(scan).to_be_focused()  # ready for the next scan
    shot(page, "panel-member")

    sim.set_offline(True)
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    expect(page.locator("#member-source")).to_be_visible()
    expect(page.locator("#member-source")).to_contain_text("Saved details")
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#statusbar")).to_have_class("status offline")
    expect(page.locator("#status-text")).to_contain_text("Offline")
    shot(page, "panel-offline")

    page.keyboard.type("1000003")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("Offline")


def test_garbage_scan_shows_a_message_and_keeps_focus(page: Any, running: RunningAgent) -> None:
    page.goto(running.base_url + "/")
    page.keyboard.type("hello world")
    page.keyboard.press("Enter")
    expect(page.locator("#message")).to_contain_text("not a member card")
    expect(page.locator("#scan")).to_be_focused()


def test_serial_scan_updates_the_panel(page: Any, agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(scanner={"backend": "serial", "serial_port": "loop://", "framing": "CR"})
    scanner = running.agent._scanner
    assert scanner is not None and scanner.wait_open(5)
    page.goto(running.base_url + "/")
    expect(page.locator("#statusbar")).to_have_class("status online")
    wait_for(lambda: running.agent.events.subscriber_count >= 1)
    scanner.serial.write(b"\x02noise\r1000003\r")
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    expect(page.locator("#points-balance")).to_have_text("9,800")
    shot(page, "panel-serial-scan")


def test_redeem_button_redeems_and_a_queued_one_turns_redeemed(
    page: Any, agent_factory: Any, sim: EngageSimulator
) -> None:
    from posplugin.vendors.engage.simulator import FaultRule

    running: RunningAgent = agent_factory(offline={"cashier_wait": 1.0})
    page.goto(running.base_url + "/")
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    rows = page.locator("#vouchers li")
    expect(rows).to_have_count(2)
    first = rows.filter(has_text="Födelsedagscheck 50 kr")
    second = rows.filter(has_text="Bonuscheck 195 kr")
    first.locator("button.redeem").click()
    expect(first.locator(".op-state")).to_have_text("Redeemed")
    expect(page.locator("#scan")).to_be_focused()

    sim.faults.add(FaultRule("slow_commit", method="POST", path="/redeem$", delay=2.5))
    second.locator("button.redeem").click()
    state = second.locator(".op-state")
    expect(state).to_have_text("Queued — will be sent later")
    shot(page, "panel-queued")
    expect(state).to_have_text("Redeemed", timeout=10_000)
    expect(rows).to_have_count(2)  # used vouchers stay on screen with their state
    expect(rows.nth(0)).to_contain_text("Födelsedagscheck 50 kr")
    assert sorted(sim.state.redeem_commits.values()) == [1, 1]


def test_print_buttons_print_the_voucher_and_the_balance(page: Any, running: RunningAgent) -> None:
    from tests.receipts.escpos_decoder import decode

    page.goto(running.base_url + "/")
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    row = page.locator("#vouchers li").filter(has_text="Bonuscheck 195 kr")
    row.locator("button.print").click()
    expect(page.locator("#message")).to_have_text("Printed")
    page.locator("#print-balance").click()
    expect(page.locator("#message")).to_have_text("Printed")
    expect(page.locator("#scan")).to_be_focused()
    receipt = decode(Path(running.agent.config.printer.file_path).read_bytes())
    assert receipt.barcodes == [("CODE128", "2511233093766")]
    assert "POINT BALANCE" in receipt.text() and receipt.cuts == ["partial", "partial"]
    shot(page, "panel-printed")


def test_buying_in_the_point_shop_shows_the_new_balance(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    page.goto(running.base_url + "/")
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    expect(page.locator("#points-balance")).to_have_text("2,450")
    page.locator("#open-shop").click()
    items = page.locator("#shop li")
    expect(items).to_have_count(3)
    expect(items.nth(0)).to_contain_text("Kaffe och bulle")
    spa = items.filter(has_text="Spadag för två")
    expect(spa).to_contain_text("12,550 points missing")
    expect(spa.locator("button.buy")).to_be_disabled()
    coffee = items.filter(has_text="Kaffe och bulle")
    coffee.locator("button.buy").click()
    expect(coffee).to_contain_text("Buy for 300 points? Balance after: 2,150")
    shot(page, "panel-point-shop-confirm")
    coffee.locator("button.confirm-buy").click()
    expect(coffee.locator(".op-state")).to_have_text("Bought")
    expect(page.locator("#points-balance")).to_have_text("2,150")
    coffee.locator("button.print-purchase").click()
    expect(page.locator("#message")).to_have_text("Printed")
    assert sim.state.active_balance(member_id("asa"), 1) == 2150


def test_a_sale_for_the_member_on_screen_says_when_points_appear(page: Any, running: RunningAgent) -> None:
    from tests.sale_factory import example_sale

    page.goto(running.base_url + "/")
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#points-pending")).to_have_text("300")  # pending points, apart from the balance
    expect(page.locator("#sale-note")).to_be_hidden()
    with running.client() as http:
        body = {**example_sale("S1-T1-PANEL"), "member": {"contactId": member_id("asa")}}
        assert http.post("/api/v1/sales", json=body).status_code == 202
    expect(page.locator("#sale-note")).to_contain_text("once the loyalty system has processed the receipt")
    shot(page, "panel-sale-note")
    page.keyboard.type("1000003")
    page.keyboard.press("Enter")
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    expect(page.locator("#sale-note")).to_be_hidden()  # the note belonged to the previous member
