"""Settings session refresh and origin normalisation."""

from __future__ import annotations

from typing import Any

import httpx

from posplugin.config import config_from_mapping
from tests.conftest import RunningAgent
from tests.test_settings_api import login, post


def test_every_authenticated_call_refreshes_the_session_cookie(running: RunningAgent) -> None:
    client, csrf = login(running)
    for answer in (client.get("/settings/api/state"), post(client, csrf, "/settings/api/test-connection")):
        assert answer.status_code == 200
        cookie = answer.headers.get("set-cookie", "")
        assert "posplugin_manager=" in cookie and "Max-Age=600" in cookie and "HttpOnly" in cookie


def test_allowed_origins_are_normalised_to_what_browsers_send() -> None:
    config = config_from_mapping(
        {"api": {"allowed_origins": ["https://POS.Example.com/", "https://pos.example.com:443", "http://Till:3000"]}}
    )
    assert config.api.allowed_origins == ["https://pos.example.com", "http://till:3000"]


def test_a_saved_origin_with_a_trailing_slash_matches(agent_factory: Any) -> None:
    running: RunningAgent = agent_factory(api={"allowed_origins": ["http://POS.local:3000/"]})
    with httpx.Client(base_url=running.base_url, timeout=10) as http:
        answer = http.get("/api/v1/health", headers={"Origin": "http://pos.local:3000"})
    assert answer.status_code == 200
    assert answer.headers.get("access-control-allow-origin") == "http://pos.local:3000"
