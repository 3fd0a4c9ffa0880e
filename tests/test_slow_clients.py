"""Half-sent requests (slowloris) neither pile up forever nor lock the cashier out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from posplugin.web import connection_guard
from tests.conftest import RunningAgent, wait_for


def half_request(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(f"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-Slow: ".encode())
    return sock


@pytest.fixture
def tight_guard(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(connection_guard, "REQUEST_TIMEOUT", 1.0)
    monkeypatch.setattr(connection_guard, "MAX_CONNECTIONS", 40)
    yield


def test_a_half_sent_request_is_closed_after_the_deadline(tight_guard: None, running: RunningAgent) -> None:
    port = running.agent.config.agent.port
    sock = half_request(port)
    sock.settimeout(5)
    started = time.monotonic()
    assert sock.recv(100) == b""  # closed by the agent
    assert 0.8 < time.monotonic() - started < 3
    sock.close()


def test_a_half_sent_body_is_closed_after_the_deadline(tight_guard: None, running: RunningAgent) -> None:
    port = running.agent.config.agent.port
    sock = socket.create_connection(("127.0.0.1", port))
    head = (
        f"POST /api/v1/identify HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nX-POS-Token: {running.token}\r\n"
        "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    sock.sendall(head.encode())
    sock.settimeout(5)
    started = time.monotonic()
    data = b""
    while chunk := sock.recv(1000):
        data += chunk
    assert time.monotonic() - started < 3
    sock.close()


def test_many_stalled_connections_leave_room_for_the_cashier(tight_guard: None, running: RunningAgent) -> None:
    port = running.agent.config.agent.port
    stalled = [half_request(port) for _ in range(120)]
    try:
        with running.client() as http:
            for _ in range(5):
                answer = http.post("/api/v1/identify", json={"code": "1000001"}, timeout=3)
                assert answer.status_code == 200, answer.text
        wait_for(lambda: len(_open(running)) <= connection_guard.MAX_CONNECTIONS + 1, timeout=5)
    finally:
        for sock in stalled:
            sock.close()


def test_the_event_stream_is_not_evicted(tight_guard: None, running: RunningAgent) -> None:
    port = running.agent.config.agent.port
    with httpx.Client(base_url=running.base_url, headers={"X-POS-Token": running.token}, timeout=10) as http:
        with http.stream("GET", "/api/v1/events") as events:
            assert events.status_code == 200
            stalled = [half_request(port) for _ in range(60)]
            time.sleep(1.5)  # past the deadline: the stream is answered, not receiving, so it stays
            running.agent.events.publish("status", {"engage": "online"})
            lines = events.iter_lines()
            assert any("status" in next(lines) for _ in range(5))
            for sock in stalled:
                sock.close()


def _open(running: RunningAgent) -> Any:
    return running.server.server_state.connections
