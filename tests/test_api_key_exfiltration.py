"""A PIN holder cannot send the write-only Engage API key to a server of their own."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from tests.conftest import API_KEY, RunningAgent
from tests.test_settings_api import login, post


class Recorder(BaseHTTPRequestHandler):
    keys: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        self.keys.append(self.headers.get("apikey", ""))
        body = b'{"items": [], "totalCount": 0}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def thief() -> Iterator[tuple[str, list[str]]]:
    keys: ClassVar[list[str]] = []
    handler = type("ThiefRecorder", (Recorder,), {"keys": keys})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", keys
    server.shutdown()
    server.server_close()


def test_a_new_engage_address_needs_the_key_re_entered(running: RunningAgent, thief: tuple[str, list[str]]) -> None:
    url, keys = thief
    client, csrf = login(running)
    refused = post(client, csrf, "/settings/api/sections/engage", {"values": {"base_url": url}})
    assert refused.status_code == 422 and refused.json()["error"]["code"] == "api_key_required"
    assert running.agent.config.engage.base_url != url and not running.agent.settings_file().exists()
    post(client, csrf, "/settings/api/test-connection")
    assert keys == []

    body = {"values": {"base_url": url}, "apiKey": "their-own-key"}
    moved = post(client, csrf, "/settings/api/sections/engage", body)
    assert moved.status_code == 200, moved.text
    assert post(client, csrf, "/settings/api/test-connection").json()["keyValid"] is True
    assert keys and set(keys) == {"their-own-key"}
    assert API_KEY not in keys


def test_the_key_alone_can_still_be_replaced_without_moving(running: RunningAgent) -> None:
    client, csrf = login(running)
    same = running.agent.config.engage.base_url
    answer = post(client, csrf, "/settings/api/sections/engage", {"values": {"base_url": same}, "apiKey": API_KEY})
    assert answer.status_code == 200 and answer.json()["saved"] is False
    assert post(client, csrf, "/settings/api/sections/engage", {"values": {}, "apiKey": "two words"}).status_code == 422
