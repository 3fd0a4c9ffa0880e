"""The settings page's calls on a fabric till: the [fabric] keys instead of Engage's, the client secret set like the
Engage key (write-only, last four shown), a new address only with its secret, [loyalty] backend read-only, and the
keys that take a restart reported as such."""

from __future__ import annotations

import asyncio
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from posplugin.agent import Agent
from posplugin.config import replace_section
from posplugin.paths import resolve_paths
from posplugin.secret_store import FABRIC_CLIENT_SECRET, FileBackend, SecretStore
from posplugin.vendors.fabric.simulator import FabricSimulator
from tests.conftest import RunningAgent, fabric_agent, make_config
from tests.fabric.conftest import ERIK, STORE
from tests.test_settings_api import login, post

NEW_SECRET = "fab-9c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d7e57"


@pytest.fixture
def agent(tmp_path: Path, fabric: FabricSimulator) -> Iterator[RunningAgent]:
    running = fabric_agent(tmp_path, fabric)
    yield running
    running.stop()


def test_the_page_shows_the_fabric_keys_and_the_backend_in_use(agent: RunningAgent, fabric: FabricSimulator) -> None:
    client, _ = login(agent)
    state = client.get("/settings/api/state").json()
    assert "engage" not in state["sections"]
    assert state["sections"]["fabric"] == {
        "base_url": fabric.url,
        "authorization_url": fabric.authorization_url,
        "client_id": fabric.state.client_id,
        "location": STORE,
    }
    loyalty = state["loyalty"]
    assert (loyalty["backend"], loyalty["title"], loyalty["secret"]) == ("fabric", "fabric", FABRIC_CLIENT_SECRET)
    assert "rewards" in loyalty["features"] and "point_adjustments" not in loyalty["features"]
    secret = fabric.state.client_secret
    assert state["apiKey"] == {"set": True, "last4": "…" + secret[-4:], "from": "env"}
    assert secret not in json.dumps(state)


def test_the_backend_and_the_other_vendor_s_section_cannot_be_changed_here(agent: RunningAgent) -> None:
    client, csrf = login(agent)
    loyalty = post(client, csrf, "/settings/api/sections/loyalty", {"values": {"backend": "engage"}})
    assert loyalty.status_code == 422 and "set by IT" in loyalty.json()["error"]["message"]
    engage = post(client, csrf, "/settings/api/sections/engage", {"values": {"base_url": "https://x.voyado.com"}})
    assert engage.status_code == 404 and "not in use" in engage.json()["error"]["message"]
    assert agent.agent.config.loyalty.backend == "fabric" and not agent.agent.settings_file().exists()


def test_the_location_applies_at_once_and_the_client_id_after_a_restart(agent: RunningAgent) -> None:
    client, csrf = login(agent)
    moved = post(client, csrf, "/settings/api/sections/fabric", {"values": {"location": "store-002"}})
    assert moved.status_code == 200, moved.text
    assert moved.json()["changed"] == ["location"] and moved.json()["restartNeeded"] == []
    with agent.client() as http:  # Erik's points restricted to store-002 now count here
        points = http.get(f"/api/v1/members/{ERIK}").json()["points"]
    assert points["restrictedHere"] == 400 and points["restricted"] == []
    renamed = post(client, csrf, "/settings/api/sections/fabric", {"values": {"client_id": "till-client-2"}})
    assert renamed.json()["restartNeeded"] == ["fabric.client_id"]
    written = tomllib.loads(agent.agent.settings_file().read_text())["fabric"]
    assert (written["location"], written["client_id"]) == ("store-002", "till-client-2")


@pytest.mark.parametrize("key", ["base_url", "authorization_url"])
def test_a_new_fabric_address_needs_the_client_secret_re_entered(
    agent: RunningAgent, fabric: FabricSimulator, key: str
) -> None:
    client, csrf = login(agent)
    other = getattr(agent.agent.config.fabric, key).replace("127.0.0.1", "localhost")
    refused = post(client, csrf, "/settings/api/sections/fabric", {"values": {key: other}})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "api_key_required"
    assert "client secret" in refused.json()["error"]["message"]
    assert getattr(agent.agent.config.fabric, key) != other and not agent.agent.settings_file().exists()

    body = {"values": {key: other}, "apiKey": NEW_SECRET}
    moved = post(client, csrf, "/settings/api/sections/fabric", body)
    assert moved.status_code == 200, moved.text
    assert moved.json()["restartNeeded"] == [f"fabric.{key}"]
    assert agent.agent.api_key == NEW_SECRET and NEW_SECRET not in moved.text
    assert moved.json()["state"]["apiKey"]["last4"] == "…7e57"


def test_the_client_secret_is_set_like_the_engage_key(agent: RunningAgent, fabric: FabricSimulator) -> None:
    client, csrf = login(agent)
    answer = post(client, csrf, "/settings/api/api-key", {"apiKey": NEW_SECRET})
    assert answer.json()["last4"] == "…7e57" and NEW_SECRET not in answer.text
    # The environment's secret wins again after a restart: the manager is told so.
    assert "POSPLUGIN_FABRIC_CLIENT_SECRET" in answer.json()["note"]
    assert FileBackend(agent.agent.paths.secrets_file).get(FABRIC_CLIENT_SECRET) == NEW_SECRET
    assert agent.agent.api_key == NEW_SECRET
    spaced = post(client, csrf, "/settings/api/api-key", {"apiKey": "two words"})
    assert spaced.status_code == 422 and "fabric-client-secret" in spaced.json()["error"]["message"]
    assert agent.agent.api_key == NEW_SECRET
    right = post(client, csrf, "/settings/api/api-key", {"apiKey": fabric.state.client_secret})
    assert right.status_code == 200
    tested = post(client, csrf, "/settings/api/test-connection").json()
    assert tested["keyValid"] is True and tested["baseUrl"] == fabric.url
    log = agent.agent.paths.log_file.read_text() if agent.agent.paths.log_file.exists() else ""
    assert NEW_SECRET not in log and fabric.state.client_secret not in log


def test_test_connection_right_after_a_wrong_secret_says_it_is_refused(agent: RunningAgent) -> None:
    client, csrf = login(agent)
    assert post(client, csrf, "/settings/api/test-connection").json()["keyValid"] is True  # a token is held now
    post(client, csrf, "/settings/api/api-key", {"apiKey": NEW_SECRET})
    tested = post(client, csrf, "/settings/api/test-connection").json()
    assert tested["reachable"] is True and tested["keyValid"] is False and "fabric refused" in tested["message"]


@pytest.mark.parametrize("backend", ["engage", "fabric"])
def test_vendor_keys_other_than_the_live_ones_take_a_restart(tmp_path: Path, backend: str) -> None:
    base = make_config(tmp_path, "http://127.0.0.1:9", 8765, loyalty={"backend": backend})
    paths = resolve_paths(base)
    paths.ensure()
    store = SecretStore(paths.data_dir, {}, backend=FileBackend(paths.secrets_file))
    agent = Agent(base, paths, store)

    def applied(section: str, **values: object) -> list[str]:
        return asyncio.run(agent.apply_config(replace_section(agent.config, section, **values)))

    try:
        assert applied("fabric", location="store-009") == []
        assert applied("engage", base_url="http://localhost:9") == []
        assert applied("fabric", base_url="http://localhost:8792/api") == ["fabric.base_url"]
        assert applied("fabric", authorization_url="http://localhost:8792/oauth2/x") == ["fabric.authorization_url"]
        assert applied("fabric", client_id="till-7", read_timeout=12.0) == ["fabric.client_id", "fabric.read_timeout"]
        assert applied("engage", probe_interval=3.0) == ["engage.probe_interval"]
    finally:
        agent.db.close()
