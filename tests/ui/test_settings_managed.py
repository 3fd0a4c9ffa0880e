"""The settings page in a real browser on a till with drop-ins: centrally managed fields are read-only, say so
with their file, and saving the rest writes only the main file."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from posplugin.vendors.engage.simulator import EngageSimulator
from tests.conftest import free_port
from tests.layered_agent import CHAIN, CHAIN_DROPIN, dropin, main_file, start_layered
from tests.ui.test_cashier_panel import shot
from tests.ui.test_settings_page import set_up_pin


def test_managed_fields_are_read_only_with_their_note_and_the_rest_saves(
    page: Any, tmp_path: Path, sim: EngageSimulator
) -> None:
    main = main_file(tmp_path, sim.url, free_port())
    dropin(main, CHAIN_DROPIN, CHAIN)
    dropin(main, "20-language.toml", {"agent": {"language": "sv"}})  # the page speaks Swedish, centrally
    running = start_layered(main)
    try:
        set_up_pin(page, running)
        hours = page.locator("#offline-max_offline_hours")
        expect(hours).to_have_value("12")
        expect(hours).not_to_be_editable()
        expect(page.locator("#offline-max_offline_hours-managed")).to_have_text(
            "Styrs centralt (10-chain.toml); ändras inte här"
        )
        expect(page.locator("#offline-max_offline_hours-managed")).to_have_attribute(
            "title", str(main.parent / "conf.d" / CHAIN_DROPIN)
        )
        expect(hours).to_have_attribute("aria-describedby", "offline-max_offline_hours-managed")
        expect(page.locator("#agent-language")).to_be_disabled()
        expect(page.locator("#agent-language-managed")).to_contain_text("20-language.toml")
        expect(page.locator("#agent-store_id")).not_to_be_editable()
        expect(page.locator("#agent-till_id")).to_be_editable()  # the till's own key stays the manager's
        expect(page.locator("#agent-till_id-managed")).to_be_hidden()
        expect(page.locator("#save-agent")).to_be_enabled()

        page.fill("#offline-cashier_wait", "2.5")
        page.click("#save-offline")
        expect(page.locator("#offline-message")).to_have_text("Sparat")
        expect(hours).to_have_value("12")
        expect(hours).not_to_be_editable()
        shot(page, "settings-managed")
        written = tomllib.loads(main.read_text(encoding="utf-8"))
        assert written["offline"] == {"cashier_wait": 2.5}
        assert "store_id" not in written["agent"] and written["agent"]["language"] == "en"
    finally:
        running.stop()
