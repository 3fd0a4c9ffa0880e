"""The settings page on a fabric till in a real browser: the backend shown read-only, the [fabric] fields instead
of Engage's, the client secret write-only, and no point adjustments."""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from posplugin.vendors.fabric.simulator import FabricSimulator
from tests.conftest import RunningAgent, fabric_agent
from tests.fabric.conftest import STORE
from tests.ui.panel_helpers import shot
from tests.ui.test_settings_page import set_up_pin

pytestmark = pytest.mark.browser


@pytest.fixture
def agent(tmp_path: Path, fabric: FabricSimulator) -> Iterator[RunningAgent]:
    running = fabric_agent(tmp_path, fabric)
    yield running
    running.stop()


def test_the_fabric_fields_the_client_secret_and_the_backend_read_only(
    page: Any, agent: RunningAgent, fabric: FabricSimulator
) -> None:
    set_up_pin(page, agent)
    expect(page.locator("#loyalty-backend")).to_have_text('fabric ([loyalty] backend = "fabric")')
    expect(page.locator("#loyalty-help")).to_contain_text("needs a restart")
    expect(page.locator("#section-engage")).to_be_hidden()
    expect(page.locator("#points-section")).to_be_hidden()  # point adjustments are Engage's
    expect(page.locator("#fabric-base_url")).to_have_value(fabric.url)
    expect(page.locator("#fabric-authorization_url")).to_have_value(fabric.authorization_url)
    expect(page.locator("#fabric-client_id")).to_have_value(fabric.state.client_id)
    expect(page.locator("#fabric-location")).to_have_value(STORE)
    secret = fabric.state.client_secret
    credential = page.locator("#section-fabric #credential")
    expect(credential.locator("#credential-title")).to_have_text("Client secret (fabric-client-secret)")
    expect(credential.locator("#api-key-last4")).to_have_text(f"Set (ends …{secret[-4:]})")
    shot(page, "settings-fabric")

    page.fill("#fabric-location", "store-002")
    page.click("#save-fabric")
    expect(page.locator("#fabric-message")).to_have_text("Saved")
    page.fill("#fabric-client_id", "till-client-2")
    page.click("#save-fabric")
    expect(page.locator("#fabric-message")).to_have_text("Saved. Takes effect after a restart: fabric.client_id")
    written = tomllib.loads(agent.agent.settings_file().read_text())["fabric"]
    assert (written["location"], written["client_id"]) == ("store-002", "till-client-2")

    page.fill("#fabric-base_url", fabric.url.replace("127.0.0.1", "localhost"))
    page.click("#save-fabric")
    expect(page.locator("#fabric-message")).to_contain_text("needs its client secret")
    assert agent.agent.config.fabric.base_url == fabric.url
    page.click("#test-connection")  # the agent still runs with the id it started with
    expect(page.locator("#fabric-message")).to_contain_text("Connected, the client secret is valid")
    assert secret not in page.content()
