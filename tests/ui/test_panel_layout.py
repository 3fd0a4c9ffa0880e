"""No scroll jumps, one language at a time, printer trouble told at once (issue items 11-13)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator, member_id
from posplugin.vendors.engage.simulator.state import Voucher
from tests.conftest import RunningAgent, free_port
from tests.receipts.escpos_decoder import decode
from tests.ui.panel_helpers import SMALL, in_viewport, open_panel, scan, scroll_y, shot

pytestmark = pytest.mark.browser
ASA_CARD, MARTA_CARD = "2400000010014", "2400000010038"


def many_vouchers(sim: EngageSimulator, key: str, count: int) -> None:
    for n in range(count):
        vid = f"0b5d7c1e-3333-4a2b-9c3d-0000000000{n:02d}"
        sim.state.vouchers[vid] = Voucher(
            vid, member_id(key), f"66600{n:02d}", f"Extra {n}", 25, "SEK", sim.state.now() + timedelta(days=9), 0
        )


@pytest.mark.parametrize("size", [SMALL, {"width": 1024, "height": 768}], ids=["800x600", "1024x768"])
def test_the_first_redeem_button_is_visible_after_a_scan(
    page: Any, running: RunningAgent, sim: EngageSimulator, size: dict[str, int]
) -> None:
    open_panel(page, running, size)
    scan(page, ASA_CARD)
    first = page.locator("#vouchers li").nth(0).locator("button.redeem")
    expect(first).to_be_visible()
    assert scroll_y(page) == 0 and in_viewport(page, first)
    name = f"panel-{size['width']}x{size['height']}"
    shot(page, name, full_page=False)
    # The tallest head: saved details while offline, with the "saved details" badge.
    sim.set_offline(True)
    expect(page.locator("#statusbar")).to_have_class("status offline", timeout=5_000)
    scan(page, ASA_CARD)
    expect(page.locator("#member-source")).to_be_visible()
    assert scroll_y(page) == 0 and in_viewport(page, first)
    shot(page, f"{name}-offline", full_page=False)


def test_redeeming_far_down_the_list_does_not_scroll_the_page(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    many_vouchers(sim, "marta", 8)
    open_panel(page, running, SMALL)
    scan(page, MARTA_CARD)
    rows = page.locator("#vouchers li")
    expect(rows).to_have_count(10)
    last = rows.nth(9)
    last.scroll_into_view_if_needed()
    before = scroll_y(page)
    assert before > 200
    last.locator("button.redeem").click()
    expect(last.locator(".op-state")).to_have_text("Redeemed")
    expect(page.locator("#scan")).to_be_focused()  # focus went back to the scan field ...
    assert scroll_y(page) == before  # ... without moving the list under the cashier's finger


def test_a_confirm_box_that_opens_is_scrolled_into_view(page: Any, running: RunningAgent) -> None:
    open_panel(page, running, SMALL)
    scan(page, ASA_CARD)
    page.locator("#open-shop").click()
    items = page.locator("#shop li")
    expect(items).to_have_count(3)
    tote = items.filter(has_text="Tygkasse")
    tote.locator("button.buy").click()
    confirm = tote.locator("button.confirm-buy")
    expect(confirm).to_be_visible()
    assert in_viewport(page, confirm)
    expect(page.locator("#scan")).to_be_focused()


def test_a_swedish_screen_speaks_only_swedish(page: Any, agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(agent={"language": "sv"})
    missing: list[str] = []
    page.on("response", lambda r: missing.append(r.url) if r.status == 404 else None)
    open_panel(page, running)
    expect(page.locator("#status-text")).to_have_text("Online")
    scan(page, "hello world")
    message = page.locator("#message")
    expect(message).to_contain_text("Det här är inte ett medlemskort")
    assert not re.search(r"\b(this|the|scan|member|card|code)\b", message.inner_text(), re.I), message.inner_text()
    scan(page, ASA_CARD)
    row = page.locator("#vouchers li").filter(has_text="Bonuscheck 195 kr")
    expect(row).to_contain_text("195,00 kr")
    expect(page.locator("#points-balance")).to_have_text("2 450")
    for label in ("Nästa kund", "Skriv ut saldo", "Poänghistorik", "Telefon / e-post"):
        expect(page.get_by_role("button", name=label)).to_be_visible()
    # The same money and date on the slip as on the screen.
    row.locator("button.print").click()
    expect(message).to_have_text("Utskrivet")
    slip = decode(Path(running.agent.config.printer.file_path).read_bytes()).text()
    on_screen = row.locator(".voucher-meta").inner_text()
    expires = re.search(r"\d{4}-\d{2}-\d{2}", on_screen)
    assert expires and expires.group(0) in slip and "195,00 kr" in slip
    assert missing == []  # no favicon 404 either
    shot(page, "panel-swedish")


def test_a_printer_that_is_off_is_told_within_a_second_and_nothing_is_queued(page: Any, agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(printer={"backend": "network", "host": "127.0.0.1", "tcp_port": free_port()})
    open_panel(page, running)
    scan(page, ASA_CARD)
    page.locator("#print-balance").click()
    expect(page.locator("#message")).to_have_text("The printer is off or not connected.", timeout=1_500)
    queue = running.agent.receipts.queue
    assert queue is not None and queue.waiting == 0  # nothing will come out an hour later
    shot(page, "panel-printer-off")


def test_a_receipt_that_cannot_print_in_time_is_dropped_and_the_cashier_told(
    page: Any, agent_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posplugin.receipts import jobs

    monkeypatch.setattr(jobs, "DEFAULT_TTL", 1.0)  # the real one is 2 minutes
    jammed = tmp_path / "jammed"
    jammed.mkdir()  # the folder is writable (status "ready"), yet every write fails
    running: RunningAgent = agent_factory(printer={"backend": "file", "file_path": str(jammed), "timeout": 0.3})
    open_panel(page, running)
    scan(page, ASA_CARD)
    page.locator("#print-balance").click()
    message = page.locator("#message")
    expect(message).to_contain_text("otherwise it is dropped")
    expect(message).to_have_text(
        "The receipt was not printed: the printer was not ready in time. Print it again if needed.", timeout=5_000
    )
    queue = running.agent.receipts.queue
    assert queue is not None and queue.waiting == 0
