"""The cashier panel on the fabric backend in a real browser: a reward box instead of vouchers and the point shop,
a reward redeemed (exactly once, across a double tap and a lost answer), printed and undone, a refusal with its
reason, points of other stores shown apart, and the Swedish texts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.fabric.simulator import FabricSimulator
from posplugin.vendors.faults import FaultRule
from tests.conftest import RunningAgent, fabric_agent, wait_for
from tests.fabric.conftest import ANNA
from tests.receipts.escpos_decoder import decode
from tests.ui.panel_helpers import open_panel, scan, shot

pytestmark = pytest.mark.browser
ANNA_CARD, ERIK_CARD, SARA_CARD = "8800000000011", "8800000000029", "8800000000037"


@pytest.fixture
def agents(tmp_path: Path, fabric: FabricSimulator) -> Iterator[Any]:
    started: list[RunningAgent] = []

    def start(**sections: dict[str, Any]) -> RunningAgent:
        running = fabric_agent(tmp_path, fabric, **sections)
        started.append(running)
        return running

    yield start
    for running in started:
        running.stop()


def test_the_fabric_panel_offers_a_reward_and_refuses_what_is_not_an_amount(
    page: Any, agents: Any, fabric: FabricSimulator
) -> None:
    running = agents()
    open_panel(page, running)
    scan(page, ERIK_CARD)
    expect(page.locator("#member-name")).to_have_text("Erik Berg")
    expect(page.locator("#reward-box")).to_be_visible()
    for absent in ("#vouchers-box", "#shop-box", "#open-shop", "#no-vouchers"):
        expect(page.locator(absent)).to_be_hidden()
    expect(page.locator("#points-balance")).to_have_text("500")
    expect(page.locator("#points-restricted")).to_have_text("400 points usable only at store-002")
    shot(page, "panel-fabric")

    amount = page.locator("#reward-amount")
    for wrong in ("0", "1.005", "-5", "abc", "100000.01"):
        amount.fill(wrong)
        page.click("#reward-redeem")
        expect(page.locator("#message")).to_contain_text("Enter an amount above 0")
        expect(amount).to_have_attribute("aria-invalid", "true")
    amount.fill("10")
    amount.press("Enter")  # a card scanned into the field ends with Enter: it never redeems
    expect(page.locator("#message")).to_have_text("Tap Redeem to redeem the reward.")
    assert fabric.state.issue_commits == 0 and page.locator("#rewards li").count() == 0

    # fabric has no point history for a till: the button says so once, then goes.
    page.click("#open-history")
    expect(page.locator("#message")).to_contain_text("cannot do this")
    expect(page.locator("#open-history")).to_be_hidden()

    scan(page, SARA_CARD)  # 20 points: a reward of 500.00 is refused, with the reason
    expect(page.locator("#member-name")).to_have_text("Sara Ek")
    expect(amount).to_have_value("")
    amount.fill("500")
    page.click("#reward-redeem")
    row = page.locator("#rewards li")
    expect(row.locator(".op-state")).to_have_text("Rejected — not enough points")
    expect(row).to_contain_text("500.00")
    expect(row.locator("button")).to_have_count(0)  # nothing to print or undo
    expect(amount).to_have_value("500")  # kept, to lower it and try again
    expect(page.locator("#scan")).to_be_focused()


def test_redeem_once_across_a_lost_answer_and_a_double_tap_then_print_and_undo(
    page: Any, agents: Any, fabric: FabricSimulator
) -> None:
    # fabric answers slowly: the agent answers "queued" and the panel follows the op to its end.
    fabric.faults.add(FaultRule("latency", method="POST", path="/v1/redeem/reward/issue", delay=3.0))
    running = agents(offline={"cashier_wait": 0.3})
    open_panel(page, running)
    scan(page, ANNA_CARD)
    expect(page.locator("#member-name")).to_have_text("Anna Lind")
    sent: list[str] = []

    def record(request: Any) -> None:
        if request.url.endswith("/rewards"):
            sent.append(json.loads(request.post_data or "{}").get("opId", ""))

    page.on("request", record)

    def lose_the_answer(route: Any) -> None:
        route.fetch()  # the agent captures the reward; the panel never hears back
        route.abort()

    page.route("**/rewards", lose_the_answer)
    page.fill("#reward-amount", "50.00")
    page.click("#reward-redeem")
    expect(page.locator("#message")).to_have_text("The till agent is not answering")
    expect(page.locator("#rewards li")).to_have_count(0)
    page.unroute("**/rewards")
    page.dblclick("#reward-redeem")  # the repeat carries the same opId; the double tap sends it once
    row = page.locator("#rewards li")
    expect(row.locator(".op-state")).to_have_text("Waiting for the loyalty system — do not give the discount yet")
    expect(row.locator("button")).to_have_count(0)  # nothing to print or undo yet
    expect(row.locator(".op-state")).to_have_text("Redeemed — give the discount")
    expect(row).to_have_count(1)
    assert len(sent) == 2 and sent[0] == sent[1]
    assert fabric.state.issue_commits == 1
    (code,) = fabric.state.rewards  # by redemption code
    expect(row.locator(".number")).to_have_text(code)
    expect(page.locator("#reward-amount")).to_have_value("")
    expect(page.locator("#points-balance")).to_have_text("700")  # 1,200 less the reward's 500, refreshed live
    shot(page, "panel-fabric-reward")

    row.locator("button.print-reward").click()
    expect(page.locator("#message")).to_have_text("Printed")
    receipt = decode(Path(running.agent.config.printer.file_path).read_bytes())
    assert receipt.qrs == [code] and "REWARD" in receipt.text()

    row.locator("button.undo-reward").click()
    expect(row.locator(".confirm-text")).to_contain_text("The points go back to the member")
    row.locator("button.confirm-undo").click()
    expect(row.locator(".op-state")).to_have_text("Undone — points returned")
    expect(row.locator("button")).to_have_count(0)
    wait_for(lambda: fabric.state.reward_statuses(ANNA) == ["Reversed"])
    expect(page.locator("#points-balance")).to_have_text("1,200")


def test_the_panel_in_swedish(page: Any, agents: Any, fabric: FabricSimulator) -> None:
    running = agents(agent={"language": "sv"})
    open_panel(page, running)
    scan(page, ANNA_CARD)
    expect(page.locator("#reward-box h2")).to_have_text("Belöning")
    expect(page.locator("#reward-redeem")).to_have_text("Lös in")
    page.fill("#reward-amount", "12,50")  # a Swedish decimal comma
    page.click("#reward-redeem")
    row = page.locator("#rewards li")
    expect(row.locator(".op-state")).to_have_text("Inlöst — ge rabatten")
    expect(row).to_contain_text("12,50")
    expect(row.locator("button.undo-reward")).to_have_text("Ångra belöning")
    page.fill("#reward-amount", "5000")
    page.click("#reward-redeem")
    expect(page.locator("#rewards li").first.locator(".op-state")).to_have_text("Nekad — för få poäng")
    scan(page, ERIK_CARD)
    expect(page.locator("#points-restricted")).to_have_text("400 poäng gäller bara i store-002")
    expect(page.locator("#rewards li")).to_have_count(0)  # the last customer's rewards are gone
