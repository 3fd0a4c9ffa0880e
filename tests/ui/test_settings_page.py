"""The store manager's settings page in a real browser: PIN setup, lockout, printer, API key, queue."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.manager_pin import MAX_FAILURES
from posplugin.vendors.engage.simulator import EngageSimulator, FaultRule, member_id, voucher_id
from tests.conftest import API_KEY, RunningAgent, wait_for
from tests.ui.test_cashier_panel import shot

PIN = "582047"
FAST = {"retry_min_seconds": 0.05, "retry_max_seconds": 0.2}


def set_up_pin(page: Any, running: RunningAgent) -> None:
    page.goto(running.base_url + "/settings")
    expect(page.locator("#pin-setup")).to_be_visible()
    expect(page.locator("#pin-new")).to_be_focused()
    page.fill("#pin-new", PIN)
    page.fill("#pin-repeat", PIN)
    page.click("#pin-setup button[type=submit]")
    expect(page.locator("#settings")).to_be_visible()


def test_first_run_pin_setup_then_login_after_reload(page: Any, running: RunningAgent) -> None:
    page.goto(running.base_url + "/settings")
    page.fill("#pin-new", PIN)
    page.fill("#pin-repeat", "582048")
    page.click("#pin-setup button[type=submit]")
    expect(page.locator("#lock-message")).to_contain_text("not the same")
    page.fill("#pin-new", "1111")
    page.fill("#pin-repeat", "1111")
    page.click("#pin-setup button[type=submit]")
    expect(page.locator("#lock-message")).to_contain_text("too easy")
    assert not running.agent.pin.is_set
    set_up_pin(page, running)
    expect(page.locator("#config-file")).to_contain_text("config.toml")
    shot(page, "settings-open")
    page.click("#logout")
    expect(page.locator("#pin-login")).to_be_visible()
    page.fill("#pin", PIN)
    page.click("#pin-login button[type=submit]")
    expect(page.locator("#settings")).to_be_visible()


def test_wrong_pins_lock_the_page(page: Any, running: RunningAgent) -> None:
    set_up_pin(page, running)
    page.click("#logout")
    for attempt in range(MAX_FAILURES - 1):
        page.fill("#pin", "909192")
        page.click("#pin-login button[type=submit]")
        left = MAX_FAILURES - 1 - attempt
        expect(page.locator("#lock-message")).to_contain_text(f"Wrong PIN. ({left} left")
    page.fill("#pin", "909192")
    page.click("#pin-login button[type=submit]")
    expect(page.locator("#lock-message")).to_contain_text("locked")
    page.fill("#pin", PIN)  # the right PIN does not open a locked page
    page.click("#pin-login button[type=submit]")
    expect(page.locator("#lock-message")).to_contain_text("locked")
    expect(page.locator("#settings")).to_be_hidden()
    page.reload()  # the lock is the agent's, not the page's
    expect(page.locator("#lock-message")).to_contain_text("Locked for")
    shot(page, "settings-locked")


def test_change_printer_settings_and_test_print_to_the_file_printer(
    page: Any, running: RunningAgent, tmp_path: Path
) -> None:
    set_up_pin(page, running)
    target = tmp_path / "till-printer.bin"
    page.fill("#printer-file_path", str(target))
    page.select_option("#printer-paper_mm", "58")
    page.fill("#printer-baudrate", "-1")
    page.click("#save-printer")
    expect(page.locator("#printer-message")).to_contain_text("baudrate = -1: must be > 0")
    page.fill("#printer-baudrate", "19200")
    page.click("#save-printer")
    expect(page.locator("#printer-message")).to_have_text("Saved")
    written = tomllib.loads(running.agent.settings_file().read_text())["printer"]
    assert (written["file_path"], written["paper_mm"], written["baudrate"]) == (str(target), 58, 19200)
    page.click("#test-print")
    expect(page.locator("#printer-message")).to_contain_text("Test page printed")
    data = target.read_bytes()
    assert b"\x1b@" in data and len(data) > 100
    shot(page, "settings-printer")


def test_set_the_api_key_and_see_only_its_last_four_characters(page: Any, agent_factory: Any) -> None:
    running = agent_factory(environ={})  # as on a till: the key lives in the secret store, not the environment
    set_up_pin(page, running)
    expect(page.locator("#api-key-last4")).to_have_text("No API key set")
    wrong_key = "k-2f8e9c41-a0b7-4d3e-9a55-77aa55c0ffee"
    page.fill("#api-key", wrong_key)
    page.click("#save-api-key")
    expect(page.locator("#api-key-last4")).to_have_text("Set (ends …ffee)")
    expect(page.locator("#api-key")).to_have_value("")
    page.click("#test-connection")  # the simulator knows only the test key
    expect(page.locator("#engage-message")).to_contain_text("refused the API key")
    page.fill("#api-key", API_KEY)
    page.click("#save-api-key")
    page.reload()
    expect(page.locator("#api-key-last4")).to_have_text("Set (ends …6789)")
    page.click("#test-connection")
    expect(page.locator("#engage-message")).to_contain_text("Connected, the key is valid")
    for key in (wrong_key, API_KEY):
        assert key not in page.content()
    shot(page, "settings-engage")


@pytest.mark.browser
def test_a_new_engage_address_is_saved_only_with_its_key(
    page: Any, running: RunningAgent, sim: EngageSimulator
) -> None:
    set_up_pin(page, running)
    other = sim.url.replace("127.0.0.1", "localhost")
    expect(page.locator("#engage-base_url")).to_have_value(sim.url)  # the page has rendered the current state
    page.fill("#engage-base_url", other)
    page.click("#save-engage")
    expect(page.locator("#engage-message")).to_contain_text("needs its API key")
    assert running.agent.config.engage.base_url == sim.url
    page.fill("#engage-base_url", other)
    page.fill("#api-key", API_KEY)
    page.click("#save-engage")
    expect(page.locator("#engage-message")).not_to_contain_text("needs its API key")
    wait_for(lambda: running.agent.config.engage.base_url == other)
    expect(page.locator("#api-key")).to_have_value("")
    page.click("#test-connection")
    expect(page.locator("#engage-message")).to_contain_text("Connected, the key is valid")


def parked_op(agent_factory: Any, sim: EngageSimulator, op_id: str, max_attempts: int) -> RunningAgent:
    """An agent with one redemption parked after ``max_attempts`` failed attempts."""
    running: RunningAgent = agent_factory(
        offline={**FAST, "max_attempts": max_attempts}, engage={"breaker_failures": 50}
    )
    sim.faults.add(FaultRule("error", method="POST", path="/redeem$", times=None, status=500))
    with running.client() as http:
        http.post(
            f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": member_id("asa"), "opId": op_id}
        )
        wait_for(lambda: http.get(f"/api/v1/ops/{op_id}").json()["state"] == "parked", timeout=15)
    return running


def test_retry_a_parked_op_from_the_queue_section(page: Any, agent_factory: Any, sim: EngageSimulator) -> None:
    running = parked_op(agent_factory, sim, "op-q", max_attempts=2)
    set_up_pin(page, running)
    row = page.locator('#queue-table tr[data-op="op-q"]')
    expect(row.locator(".op-state")).to_have_text("parked")
    expect(row).to_contain_text("too many failed attempts")
    shot(page, "settings-queue")
    sim.faults.clear()
    row.locator("button[data-action=retry]").click()
    with running.client() as http:
        wait_for(lambda: http.get("/api/v1/ops/op-q").json()["state"] == "redeemed", timeout=15)
    page.click("#queue-refresh")
    expect(page.locator('#queue-table tr[data-op="op-q"]')).to_have_count(0)
    expect(page.locator("#queue-summary")).to_have_text("The queue is empty")


def test_resolve_a_parked_op_with_a_note_from_the_queue_section(
    page: Any, agent_factory: Any, sim: EngageSimulator
) -> None:
    running = parked_op(agent_factory, sim, "op-r", max_attempts=1)
    set_up_pin(page, running)
    row = page.locator('#queue-table tr[data-op="op-r"]')
    row.locator("button[data-action=resolve]").click()
    row.locator("button[data-action=resolve-save]").click()  # no note: nothing is sent
    expect(page.locator("#queue-message")).to_contain_text("How it was settled")
    row.locator("input[data-field=resolve-note]").fill("Checked in Engage: not redeemed, customer paid")
    row.locator("button[data-action=resolve-save]").click()
    expect(page.locator('#queue-table tr[data-op="op-r"]')).to_have_count(0)
    with running.client() as http:
        op = http.get("/api/v1/ops/op-r").json()
        assert (op["state"], op["note"]) == ("resolved", "Checked in Engage: not redeemed, customer paid")
        assert http.get("/api/v1/health").json()["status"] != "critical"


def test_goodwill_points_by_card_from_the_points_section(page: Any, running: RunningAgent) -> None:
    set_up_pin(page, running)
    page.fill("#adjust-member", "2400000010014")
    page.fill("#adjust-amount", "50")
    page.fill("#adjust-reason", "Goodwill: late delivery")
    page.click("#adjust-form button[type=submit]")
    expect(page.locator("#points-message")).to_have_text("50 points for Åsa Öberg: completed")
    with running.client() as http:
        view = http.get(f"/api/v1/members/{member_id('asa')}").json()
    assert view["points"]["balance"] == 2450 + 50
    page.fill("#adjust-member", "hello world")
    page.fill("#adjust-amount", "5")
    page.fill("#adjust-reason", "x")
    page.click("#adjust-form button[type=submit]")
    expect(page.locator("#points-message")).to_contain_text("not a member card")


def test_an_open_cashier_panel_picks_up_a_rotated_token(page: Any, running: RunningAgent) -> None:
    page.goto(running.base_url + "/")
    old = page.locator('meta[name="pos-token"]').get_attribute("content")
    assert old == running.token
    running.agent.rotate_token()
    page.keyboard.type("2400000010014")
    page.keyboard.press("Enter")  # refused with the old token: the page fetches the new one and asks again
    expect(page.locator("#member-name")).to_have_text("Åsa Öberg")  # the scan itself is not lost
    expect(page.locator('meta[name="pos-token"]')).to_have_attribute("content", running.agent.token)


def test_every_editable_key_has_a_field_with_a_readable_label(page: Any, running: RunningAgent) -> None:
    from posplugin.settings import EDITABLE

    set_up_pin(page, running)
    for section, keys in EDITABLE.items():
        for key in keys:
            label = page.locator(f'label[for="{section}-{key}"]')
            expect(label).to_have_count(1)
            text = label.inner_text()
            assert text.endswith(key) and text[: -len(key)].strip(), f"{section}.{key} has no readable label"
    assert (
        page.locator("#sections input, #sections select, #sections textarea").count()
        == sum(len(keys) for keys in EDITABLE.values()) + 2
    )  # plus the API key and test-scan fields
