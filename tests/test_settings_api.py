"""The settings page's JSON calls over real HTTP: PIN gate, lockout, session, CSRF, validated saves, secrets."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.config import load_config
from posplugin.manager_pin import MAX_FAILURES
from posplugin.secret_store import ENGAGE_API_KEY, PIN_HASH
from tests.conftest import RunningAgent, make_config, start_agent

PIN = "482913"


def manager(running: RunningAgent) -> httpx.Client:
    return httpx.Client(base_url=running.base_url, timeout=30)


def login(running: RunningAgent, pin: str = PIN) -> tuple[httpx.Client, str]:
    """A client holding a manager session (setting the PIN first if none is set) and the CSRF token."""
    client = manager(running)
    path = "/settings/api/login" if running.agent.pin.is_set else "/settings/api/pin/setup"
    answer = client.post(path, json={"pin": pin})
    assert answer.status_code == 200, answer.text
    return client, answer.json()["csrf"]


def post(client: httpx.Client, csrf: str, path: str, body: Any = None) -> httpx.Response:
    return client.post(path, json={} if body is None else body, headers={"X-CSRF-Token": csrf})


def test_first_run_sets_a_pin_hashed_in_the_secret_store_and_opens_a_session(running: RunningAgent) -> None:
    client = manager(running)
    assert client.get("/settings/api/session").json()["pinSet"] is False
    assert client.get("/settings/api/state").status_code == 401
    answer = client.post("/settings/api/pin/setup", json={"pin": PIN})
    assert answer.status_code == 200
    cookie = answer.headers["set-cookie"]
    for attribute in ("HttpOnly", "SameSite=Strict", "Max-Age=600", "Path=/settings"):
        assert attribute in cookie
    stored = running.agent.secrets.get(PIN_HASH) or ""
    assert stored.startswith("scrypt$") and PIN not in stored
    assert client.get("/settings/api/state").status_code == 200
    # Only the first run may set a PIN without knowing the old one.
    assert manager(running).post("/settings/api/pin/setup", json={"pin": "111222"}).status_code == 409


@pytest.mark.parametrize("pin", ["123", "1111", "abcd", "1234", "12 34", "9" * 13])
def test_weak_or_malformed_pins_are_refused(running: RunningAgent, pin: str) -> None:
    answer = manager(running).post("/settings/api/pin/setup", json={"pin": pin})
    assert answer.status_code == 422 and answer.json()["error"]["code"] == "invalid_pin"
    assert not running.agent.pin.is_set


def test_wrong_pins_lock_the_page_and_the_lock_survives_a_restart(tmp_path: Path, sim: Any, agent_factory: Any) -> None:
    first = agent_factory()
    login(first)
    client = manager(first)
    for attempt in range(MAX_FAILURES - 1):
        answer = client.post("/settings/api/login", json={"pin": "000111"})
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "wrong_pin"
        assert f"{MAX_FAILURES - 1 - attempt} left" in answer.json()["error"]["message"]
    locked = client.post("/settings/api/login", json={"pin": "000111"})
    assert locked.status_code == 429 and locked.json()["error"]["code"] == "pin_locked"
    # Even the right PIN is refused while locked.
    assert client.post("/settings/api/login", json={"pin": PIN}).status_code == 429
    config = first.agent.config
    first.stop()

    again = start_agent(make_config(tmp_path, sim.url, config.agent.port + 0))
    try:
        assert manager(again).get("/settings/api/session").json()["lockedForSeconds"] > 250
        assert manager(again).post("/settings/api/login", json={"pin": PIN}).status_code == 429
    finally:
        again.stop()


def test_a_right_pin_resets_the_count(running: RunningAgent) -> None:
    login(running)
    client = manager(running)
    for _ in range(MAX_FAILURES - 1):
        assert client.post("/settings/api/login", json={"pin": "000111"}).status_code == 401
    assert client.post("/settings/api/login", json={"pin": PIN}).status_code == 200
    for _ in range(MAX_FAILURES - 1):
        assert client.post("/settings/api/login", json={"pin": "000111"}).status_code == 401


def test_state_changes_need_the_csrf_token_json_and_the_agents_own_origin(running: RunningAgent) -> None:
    client, csrf = login(running)
    body = {"values": {"store_id": "store-9"}}
    assert client.post("/settings/api/sections/agent", json=body).status_code == 403  # no CSRF token
    assert client.post("/settings/api/sections/agent", json=body, headers={"X-CSRF-Token": "x"}).status_code == 403
    as_text = client.post(
        "/settings/api/sections/agent",
        content=b'{"values": {}}',
        headers={"X-CSRF-Token": csrf, "Content-Type": "text/plain"},
    )
    assert as_text.status_code == 415
    port = running.agent.config.agent.port
    pos_app = {"X-CSRF-Token": csrf, "Origin": "http://pos.example:3000"}
    assert client.post("/settings/api/sections/agent", json=body, headers=pos_app).status_code == 403
    own = {"X-CSRF-Token": csrf, "Origin": f"http://127.0.0.1:{port}"}
    assert client.post("/settings/api/sections/agent", json=body, headers=own).status_code == 200
    assert running.agent.config.agent.store_id == "store-9"


def test_an_allowed_pos_origin_gets_nothing_from_the_settings_calls(agent_factory: Any) -> None:
    running = agent_factory(api={"allowed_origins": ["http://pos.example:3000"]})
    client, _ = login(running)
    answer = client.get("/settings/api/state", headers={"Origin": "http://pos.example:3000"})
    assert answer.status_code == 403


def test_logout_ends_the_session(running: RunningAgent) -> None:
    client, _ = login(running)
    assert client.post("/settings/api/logout", json={}).status_code == 200
    assert client.get("/settings/api/state").status_code == 401


def test_settings_page_cannot_be_framed(running: RunningAgent) -> None:
    page = manager(running).get("/settings")
    assert page.status_code == 200
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]


def test_saving_validates_like_the_loader_and_writes_the_file_atomically_with_a_backup(
    running: RunningAgent, tmp_path: Path
) -> None:
    client, csrf = login(running)
    path = running.agent.settings_file()
    bad = post(client, csrf, "/settings/api/sections/printer", {"values": {"baudrate": -5}})
    assert bad.status_code == 422
    assert "[printer] baudrate = -5: must be > 0" in bad.json()["error"]["message"]
    assert not path.exists()
    wrong_type = post(client, csrf, "/settings/api/sections/printer", {"values": {"paper_mm": "80"}})
    assert wrong_type.status_code == 422 and "whole number" in wrong_type.json()["error"]["message"]
    not_here = post(client, csrf, "/settings/api/sections/agent", {"values": {"data_dir": "/tmp"}})
    assert not_here.status_code == 422 and "cannot be changed here" in not_here.json()["error"]["message"]

    first = post(client, csrf, "/settings/api/sections/printer", {"values": {"paper_mm": 58, "codepage": "CP437"}})
    assert first.status_code == 200, first.text
    assert first.json()["changed"] == ["codepage", "paper_mm"] and first.json()["restartNeeded"] == []
    written = tomllib.loads(path.read_text())
    assert written["printer"]["paper_mm"] == 58 and written["printer"]["codepage"] == "CP437"
    assert load_config(path).printer.paper_mm == 58  # the file reads back through the real loader
    second = post(client, csrf, "/settings/api/sections/agent", {"values": {"language": "sv"}})
    assert second.json()["restartNeeded"] == ["agent.language"]
    backup = path.with_name("config.toml.bak")
    assert tomllib.loads(backup.read_text())["printer"]["paper_mm"] == 58
    assert tomllib.loads(backup.read_text())["agent"]["language"] == "en"
    assert "language" not in tomllib.loads(path.read_text())["agent"]  # back to the default: not written
    assert load_config(path).agent.language == "sv"
    assert not list(path.parent.glob(".config-*.tmp"))
    same = post(client, csrf, "/settings/api/sections/agent", {"values": {"language": "sv"}})
    assert same.json()["saved"] is False


def test_printer_change_applies_without_restart(running: RunningAgent, tmp_path: Path) -> None:
    client, csrf = login(running)
    new_file = tmp_path / "other-printer.bin"
    answer = post(client, csrf, "/settings/api/sections/printer", {"values": {"file_path": str(new_file)}})
    assert answer.status_code == 200
    printed = post(client, csrf, "/settings/api/test-print")
    assert printed.status_code == 200, printed.text
    assert new_file.exists() and new_file.stat().st_size == printed.json()["bytes"]


def test_api_key_is_write_only_and_shows_its_last_four_characters(running: RunningAgent, sim: Any) -> None:
    client, csrf = login(running)
    state = client.get("/settings/api/state").json()
    assert "test-api-key" not in str(state)
    assert state["apiKey"]["last4"].endswith("6789")
    wrong = post(client, csrf, "/settings/api/api-key", {"apiKey": "wrong-key-abcd1234"})
    assert wrong.json()["last4"] == "…1234"
    assert "POSPLUGIN_ENGAGE_API_KEY" in wrong.json()["note"]  # the test agent's key comes from the environment
    refused = post(client, csrf, "/settings/api/test-connection").json()
    assert refused["reachable"] is True and refused["keyValid"] is False
    assert running.agent.secrets.backend.get(ENGAGE_API_KEY) == "wrong-key-abcd1234"
    assert "wrong-key" not in client.get("/settings/api/state").text
    assert post(client, csrf, "/settings/api/api-key", {"apiKey": "two words"}).status_code == 422


def test_connection_test_reports_latency_and_an_unreachable_engage(running: RunningAgent, sim: Any) -> None:
    client, csrf = login(running)
    ok = post(client, csrf, "/settings/api/test-connection").json()
    assert ok["keyValid"] is True and ok["latencyMs"] > 0
    down = post(
        client, csrf, "/settings/api/sections/engage", {"values": {"base_url": "http://127.0.0.1:9"}, "apiKey": "k-9"}
    )
    assert down.status_code == 200
    result = post(client, csrf, "/settings/api/test-connection").json()
    assert result["reachable"] is False and result["keyValid"] is None
    assert running.agent.status.state == "offline"


def test_allowed_origins_apply_at_once(running: RunningAgent) -> None:
    client, csrf = login(running)
    origin = "http://pos.example:3000"
    pos = httpx.Client(base_url=running.base_url, headers={"X-POS-Token": running.token, "Origin": origin})
    assert pos.get("/api/v1/queue").status_code == 403
    saved = post(client, csrf, "/settings/api/sections/api", {"values": {"allowed_origins": [origin]}})
    assert saved.status_code == 200
    answer = pos.get("/api/v1/queue")
    assert answer.status_code == 200 and answer.headers["access-control-allow-origin"] == origin


def test_token_rotation_stops_the_old_token(running: RunningAgent) -> None:
    old = running.token
    client, csrf = login(running)
    new = post(client, csrf, "/settings/api/token/rotate").json()["token"]
    assert new != old and len(new) >= 32
    assert httpx.get(f"{running.base_url}/api/v1/queue", headers={"X-POS-Token": old}).status_code == 401
    assert httpx.get(f"{running.base_url}/api/v1/queue", headers={"X-POS-Token": new}).status_code == 200


def test_pin_change_needs_the_current_pin(running: RunningAgent) -> None:
    client, csrf = login(running)
    wrong = post(client, csrf, "/settings/api/pin/change", {"current": "000111", "new": "606162"})
    assert wrong.status_code == 401
    assert post(client, csrf, "/settings/api/pin/change", {"current": PIN, "new": "606162"}).status_code == 200
    assert manager(running).post("/settings/api/login", json={"pin": "606162"}).status_code == 200


def test_test_scan_normalises_with_the_saved_prefix(running: RunningAgent) -> None:
    client, csrf = login(running)
    post(client, csrf, "/settings/api/sections/scanner", {"values": {"strip_prefix": "]C1"}})
    read = post(client, csrf, "/settings/api/scan/normalise", {"code": "]C12400000010014"}).json()
    assert read["normalised"] == "2400000010014"
    bad = post(client, csrf, "/settings/api/scan/normalise", {"code": "\x00\x01"}).json()
    assert bad["normalised"] is None and bad["error"]


def test_log_section_shows_redacted_lines(running: RunningAgent) -> None:
    log_file = running.agent.paths.log_file
    log_file.parent.mkdir(parents=True, exist_ok=True)
    log_file.write_text("line one\nline two\n", encoding="utf-8")
    client, _ = login(running)
    assert client.get("/settings/api/logs").json()["lines"][-2:] == ["line one", "line two"]


def test_the_settings_page_answers_only_to_the_agents_own_host(running: RunningAgent) -> None:
    for path in ("/settings", "/settings/api/session"):
        answer = manager(running).get(path, headers={"Host": "evil.example"})
        assert answer.status_code == 400 and answer.json()["error"]["code"] == "bad_host"
