"""The cashier panel's Offers: the member's promotions with the cash-register instruction, a Redeem button that
follows the op (redeemed, queued and later confirmed, rejected with the reason), the printed slip, the offer a
point-shop purchase assigned, in English and in Swedish."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, assignment_id, item_id
from tests.conftest import RunningAgent, wait_for
from tests.receipts.escpos_decoder import decode
from tests.ui.panel_helpers import SMALL, in_viewport, open_panel, scan, shot

pytestmark = pytest.mark.browser
ASA_CARD, MARTA_CARD = "2400000010014", "2400000010038"
SPRING, FIFTY = assignment_id("asa", "spring20"), assignment_id("asa", "fifty")


def offer(page: Any, assignment: str) -> Any:
    return page.locator(f'#offers li[data-assignment-id="{assignment}"]')


def test_offers_show_the_instruction_and_redeem_follows_the_op(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    expect(page.locator("#offers li")).to_have_count(2)
    assert in_viewport(page, page.locator("#vouchers li").first.locator("button.redeem"))  # offers come after
    spring = offer(page, SPRING)
    expect(spring).to_contain_text("Vårerbjudande 20 %")
    expect(spring.locator(".voucher-value")).to_have_text("20%")
    expect(spring.locator(".offer-instruction")).to_have_text(
        "At the till: Ge 20 % rabatt på en vara till ordinarie pris."
    )
    expect(offer(page, FIFTY).locator(".voucher-value")).to_have_text("50.00 SEK")
    expect(offer(page, FIFTY)).to_contain_text("€4.50")
    expect(page.locator("#offers")).not_to_contain_text("Fri frakt")  # the web shop's only
    spring.scroll_into_view_if_needed()
    shot(page, "panel-offers", full_page=False)
    spring.locator("button.redeem-offer").click()
    expect(spring.locator(".op-state")).to_have_text("Redeemed")
    expect(page.locator("#scan")).to_be_focused()  # a scan never lands on a button
    assert sim.state.promotions.redeem_commits == {SPRING: 1}
    # The agent's refresh after the op (a `member` event) no longer lists it: the row stays where it was.
    page.wait_for_function(f"() => state.view && !state.view.promotions.some((p) => p.id === '{SPRING}')")
    expect(page.locator("#offers li").nth(0)).to_have_attribute("data-assignment-id", SPRING)
    expect(spring.locator(".op-state")).to_have_text("Redeemed")
    printer = Path(running.agent.config.printer.file_path)
    printer.write_bytes(b"")
    spring.locator("button.print-offer").click()
    expect(page.locator("#message")).to_have_text("Printed")
    slip = decode(printer.read_bytes())
    assert slip.find("Vårerbjudande 20 %") and slip.find("REDEEMED") and slip.find("At the till")
    page.locator("#next-customer").click()
    expect(page.locator("#offers li")).to_have_count(0)


def test_an_offer_redeemed_offline_is_queued_then_confirmed(
    page: Any, agent_factory: Any, sim: EngageSimulator
) -> None:
    running: RunningAgent = agent_factory(offline={"retry_min_seconds": 0.2, "retry_max_seconds": 0.5})
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#offers li")).to_have_count(2)
    sim.set_offline(True)
    with running.client() as http:
        http.post("/api/v1/identify", json={"code": "7777777"})  # a refused connection: offline at once
    expect(page.locator("#statusbar")).to_have_class("status offline")
    fifty = offer(page, FIFTY)
    fifty.locator("button.redeem-offer").click()
    expect(fifty.locator(".op-state")).to_have_text("Queued — will be sent later")
    expect(page.locator("#queue-text")).to_have_text("1 queued")
    sim.set_offline(False)
    expect(fifty.locator(".op-state")).to_have_text("Redeemed", timeout=15_000)  # the op event, not a reload
    assert sim.state.promotions.redeem_commits == {FIFTY: 1}


def test_a_point_shop_purchase_shows_the_offer_it_assigned_ready_to_redeem(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running)
    scan(page, MARTA_CARD)
    expect(page.locator("#offers li")).to_have_count(1)
    page.locator("#open-shop").click()
    coffee = page.locator(f'#shop li[data-item-id="{item_id("coffee")}"]')
    coffee.locator("button.buy").click()
    coffee.locator("button.confirm-buy").click()
    expect(coffee.locator(".op-state")).to_have_text("Bought")
    new = page.locator("#offers li").filter(has=page.locator(".offer-new"))
    expect(new).to_have_count(1)
    expect(new).to_contain_text("New — from the point shop")
    expect(new.locator(".offer-instruction")).to_contain_text("Lämna ut kaffe och bulle")
    new.locator("button.redeem-offer").click()
    expect(new.locator(".op-state")).to_have_text("Redeemed")
    wait_for(lambda: sum(sim.state.promotions.redeem_commits.values()) == 1)
    shot(page, "panel-offer-from-point-shop")


def test_offers_that_cannot_be_fetched_say_so(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    sim.faults.add(FaultRule("error", method="GET", path=r"/promotions$", times=None, status=500))
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#no-offers")).to_have_text(
        "The offers could not be fetched just now. Scan again if the customer asks for one."
    )
    expect(page.locator("#vouchers li")).to_have_count(2)


def test_offers_in_swedish(page: Any, agent_factory: Any, sim: EngageSimulator) -> None:
    running: RunningAgent = agent_factory(agent={"language": "sv"})
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.get_by_role("heading", name="Erbjudanden")).to_be_visible()
    spring, fifty = offer(page, SPRING), offer(page, FIFTY)
    expect(spring.locator(".voucher-value")).to_have_text("20 %")
    expect(fifty.locator(".voucher-value")).to_have_text("50,00 kr")
    expect(spring.locator(".offer-instruction")).to_contain_text("Kassan: Ge 20 % rabatt")
    expect(spring).to_contain_text("Gäller t.o.m.")
    expect(spring.locator("button.redeem-offer")).to_have_text("Lös in")
    expect(spring.locator("button.print-offer")).to_have_text("Skriv ut")
    # The web shop uses one while the customer is at the till (before any refresh could show it gone).
    sim.state.promotions.redeem_elsewhere(FIFTY)
    fifty.locator("button.redeem-offer").click()
    expect(fifty.locator(".op-state")).to_have_text("Nekad — redan inlöst")
    spring.locator("button.redeem-offer").click()
    expect(spring.locator(".op-state")).to_have_text("Inlöst")
    # The agent's refresh after the redemption lists neither; both rows keep their state.
    page.wait_for_function(f"() => !state.view.promotions.some((p) => p.id === '{SPRING}')")
    expect(fifty.locator(".op-state")).to_have_text("Nekad — redan inlöst")
    assert "Offer" not in page.locator("#offers").inner_text()
    shot(page, "panel-offers-swedish")
