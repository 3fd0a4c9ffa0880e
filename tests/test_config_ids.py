"""Store and till ids end up in the User-Agent header: one rule for file, page and CLI, and a header that is
always valid whatever letters a store's name has."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.config import ConfigError, config_from_mapping, load_config
from posplugin.vendors.engage import EngageClient, user_agent
from tests.conftest import RunningAgent, make_config, start_agent
from tests.test_settings_api import login, post


@pytest.mark.parametrize("key", ["store_id", "till_id"])
@pytest.mark.parametrize("value", ["t\n1", "t\r1", "t\t1", "a\x00b", " lead", "trail ", "x" * 65, "a\u2028b"])
def test_ids_with_control_characters_are_refused_by_the_loader(key: str, value: str) -> None:
    with pytest.raises(ConfigError, match=rf"\[agent\] {key}"):
        config_from_mapping({"agent": {key: value}})


def test_a_newline_in_the_user_agent_suffix_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"\[engage\] user_agent_suffix"):
        config_from_mapping({"engage": {"user_agent_suffix": "x\r\nX-Evil: 1"}})


@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=80))
def test_the_user_agent_is_always_a_valid_header_value(store: str, till: str, suffix: str) -> None:
    value = user_agent(store, till, suffix)
    assert value.isascii() and all(" " <= ch <= "~" for ch in value)
    httpx.Request("GET", "http://127.0.0.1/", headers={"User-Agent": value})  # must not raise


def test_a_store_named_malmo_reaches_engage_with_an_encoded_user_agent() -> None:
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["user-agent"])
        return httpx.Response(200, json={"items": [], "totalCount": 0})

    async def main() -> None:
        agent = user_agent("Malmö C", "kassa 1")
        transport = httpx.MockTransport(answer)
        async with EngageClient("https://x.voyado.com", "k", agent=agent, transport=transport) as c:
            await c.get_point_definitions()
            c.reconfigure("https://y.voyado.com", "Göteborg/2")
            await c.get_point_definitions()

    asyncio.run(main())
    assert "(Malm%C3%B6 C/kassa 1)" in seen[0]
    assert seen[1] == "G%C3%B6teborg/2"


def test_the_settings_page_saves_a_store_with_o_umlaut_and_the_agent_restarts(
    tmp_path: Path, sim: Any, agent_factory: Any
) -> None:
    running: RunningAgent = agent_factory()
    client, csrf = login(running)
    saved = post(client, csrf, "/settings/api/sections/agent", {"values": {"store_id": "Malmö C"}})
    assert saved.status_code == 200, saved.text
    identify = running.client().post("/api/v1/identify", json={"code": "1000001"})
    assert identify.status_code == 200, identify.text
    path = running.agent.settings_file()
    reloaded = load_config(path)
    assert reloaded.agent.store_id == "Malmö C"
    running.stop()
    again = start_agent(make_config(tmp_path, sim.url, running.agent.config.agent.port, agent={"store_id": "Malmö C"}))
    try:
        assert again.client().post("/api/v1/identify", json={"code": "1000001"}).status_code == 200
    finally:
        again.stop()


def test_the_settings_page_refuses_a_newline_in_the_till_id_and_writes_nothing(running: RunningAgent) -> None:
    client, csrf = login(running)
    refused = post(client, csrf, "/settings/api/sections/agent", {"values": {"till_id": "kassa\n1"}})
    assert refused.status_code == 422 and "till_id" in refused.json()["error"]["message"]
    assert not running.agent.settings_file().exists()
    assert running.agent.config.agent.till_id == "t1"


def test_config_check_refuses_a_till_id_with_a_newline(tmp_path: Path, capsys: Any) -> None:
    from posplugin.cli import main

    path = tmp_path / "config.toml"
    path.write_text('[agent]\ntill_id = "kassa\\n1"\n', encoding="utf-8")
    assert main(["config", "check", "--config", str(path)]) == 2
    assert "till_id" in capsys.readouterr().err
