"""The panel tells the truth about the connection, the queue and a sale (issue items 7-10)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, member_id
from posplugin.vendors.engage.simulator.state import Voucher
from tests.conftest import RunningAgent
from tests.ui.panel_helpers import SMALL, open_panel, scan, shot

pytestmark = pytest.mark.browser
ASA_CARD, MARTA_CARD = "2400000010014", "2400000010038"


def test_an_idle_till_notices_engage_going_away(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    open_panel(page, running, SMALL)
    sim.set_offline(True)  # nobody scans: only the probe can notice
    expect(page.locator("#statusbar")).to_have_class("status offline", timeout=5_000)
    expect(page.locator("#status-text")).to_have_text("Offline — the loyalty system is not answering")
    with running.client() as http:
        assert http.get("/api/v1/health").json()["engage"] == "offline"
    sim.set_offline(False)
    expect(page.locator("#statusbar")).to_have_class("status online", timeout=5_000)


def test_the_status_bar_stays_visible_when_scrolled(page: Any, running: RunningAgent, sim: EngageSimulator) -> None:
    from datetime import timedelta

    for n in range(8):
        vid = f"0b5d7c1e-2222-4a2b-9c3d-00000000000{n}"
        sim.state.vouchers[vid] = Voucher(
            vid, member_id("marta"), f"55500{n}", f"Extra {n}", 25, "SEK", sim.state.now() + timedelta(days=9), 0
        )
    open_panel(page, running, SMALL)
    scan(page, MARTA_CARD)
    expect(page.locator("#vouchers li")).to_have_count(10)
    page.mouse.wheel(0, 2000)
    page.wait_for_function("window.scrollY > 300")
    box = page.locator("#statusbar").bounding_box()
    assert box is not None and box["y"] == 0
    shot(page, "panel-sticky-status", full_page=False)


def test_agent_not_answering_is_told_apart_from_engage_not_answering(page: Any, running: RunningAgent) -> None:
    open_panel(page, running)
    running.stop()
    expect(page.locator("#statusbar")).to_have_class("status agent", timeout=8_000)
    expect(page.locator("#status-text")).to_contain_text("The till agent is not answering")
    shot(page, "panel-agent-down")


def test_offline_the_point_shop_says_it_needs_a_connection_and_the_queue_count_follows(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    sim.set_offline(True)
    expect(page.locator("#statusbar")).to_have_class("status offline", timeout=5_000)
    page.locator("#open-shop").click()
    expect(page.locator("#message")).to_have_text(
        "The point shop needs a connection to the loyalty system. Try again when the till is online."
    )
    row = page.locator("#vouchers li").nth(0)
    row.locator("button.redeem").click()
    expect(row.locator(".op-state")).to_have_text("Queued — will be sent later")
    expect(page.locator("#queue-text")).to_have_text("1 queued", timeout=1_500)  # not at the next 10 s poll
    shot(page, "panel-offline-queue")


def test_a_sale_by_scanned_code_shows_the_points_note(page: Any, running: RunningAgent) -> None:
    from tests.sale_factory import example_sale

    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    expect(page.locator("#sale-note")).to_be_hidden()
    with running.client() as http:
        body = {**example_sale("S1-T1-CODE"), "member": {"code": ASA_CARD}}
        assert http.post("/api/v1/sales", json=body).status_code == 202
    expect(page.locator("#sale-note")).to_contain_text("once the loyalty system has processed the receipt")


def test_a_scan_right_after_a_token_rotation_is_not_lost(page: Any, running: RunningAgent) -> None:
    open_panel(page, running)
    scan(page, ASA_CARD)
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")
    running.agent.rotate_token()
    scan(page, MARTA_CARD)
    expect(page.locator("#member-name")).to_have_text("Märta Lindqvist")
    expect(page.locator("#message")).to_be_hidden()
