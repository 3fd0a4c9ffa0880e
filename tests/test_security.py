"""Local security: Host, Origin/CORS, token, JSON only, body cap, loopback-only listening."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import RunningAgent

POS_ORIGIN = "http://pos.example.local:3000"


@pytest.fixture
def agent(agent_factory: Any) -> RunningAgent:
    running: RunningAgent = agent_factory(api={"allowed_origins": [POS_ORIGIN]})
    return running


def raw(agent: RunningAgent, method: str, path: str, **kwargs: Any) -> httpx.Response:
    with httpx.Client(base_url=agent.base_url, timeout=10) as http:
        return http.request(method, path, **kwargs)


def token(agent: RunningAgent) -> dict[str, str]:
    return {"X-POS-Token": agent.token}


def test_foreign_host_header_is_400(agent: RunningAgent) -> None:
    response = raw(agent, "GET", "/api/v1/health", headers={"Host": "evil.example"})
    assert response.status_code == 400 and response.json()["error"]["code"] == "bad_host"
    port = agent.base_url.rsplit(":", 1)[1]
    assert raw(agent, "GET", "/api/v1/health", headers={"Host": f"localhost:{port}"}).status_code == 200
    assert raw(agent, "GET", "/", headers={"Host": f"evil.example:{port}"}).status_code == 400


def test_disallowed_origin_is_403_even_with_the_token(agent: RunningAgent) -> None:
    headers = {**token(agent), "Origin": "https://evil.example", "Content-Type": "application/json"}
    response = raw(agent, "POST", "/api/v1/identify", headers=headers, content=b'{"code": "1000001"}')
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden_origin"


def test_text_plain_post_without_token_is_401(agent: RunningAgent) -> None:
    response = raw(
        agent, "POST", "/api/v1/identify", headers={"Content-Type": "text/plain"}, content=b'{"code": "1000001"}'
    )
    assert response.status_code == 401 and response.json()["error"]["code"] == "unauthorized"


def test_state_change_needs_json_even_with_token(agent: RunningAgent) -> None:
    response = raw(
        agent,
        "POST",
        "/api/v1/identify",
        headers={**token(agent), "Content-Type": "text/plain"},
        content=b'{"code": "1000001"}',
    )
    assert response.status_code == 415


def test_every_api_call_but_health_needs_the_token(agent: RunningAgent) -> None:
    assert raw(agent, "GET", "/api/v1/health").status_code == 200
    for path in ("/api/v1/members/2b4fff30-49b2-5f21-90c6-f247ea8de82a", "/api/v1/events"):
        assert raw(agent, "GET", path).status_code == 401
        assert raw(agent, "GET", path, headers={"X-POS-Token": "wrong"}).status_code == 401


def test_preflight_from_allowed_origin_passes_with_private_network(agent: RunningAgent) -> None:
    response = raw(
        agent,
        "OPTIONS",
        "/api/v1/identify",
        headers={
            "Origin": POS_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-pos-token",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == POS_ORIGIN
    assert response.headers["access-control-allow-private-network"] == "true"
    assert "X-POS-Token" in response.headers["access-control-allow-headers"]


def test_preflight_from_other_origin_fails(agent: RunningAgent) -> None:
    response = raw(
        agent,
        "OPTIONS",
        "/api/v1/identify",
        headers={
            "Origin": "https://evil.example",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Private-Network": "true",
        },
    )
    assert response.status_code == 403
    assert "access-control-allow-origin" not in response.headers
    assert "access-control-allow-private-network" not in response.headers


def test_allowed_origin_gets_exact_cors_never_star(agent: RunningAgent) -> None:
    response = raw(
        agent,
        "POST",
        "/api/v1/identify",
        headers={**token(agent), "Origin": POS_ORIGIN, "Content-Type": "application/json"},
        content=b'{"code": "1000001"}',
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == POS_ORIGIN
    assert response.headers["vary"] == "Origin"


def test_oversized_body_is_413_and_agent_keeps_running(agent: RunningAgent) -> None:
    big = b'{"code": "' + b"1" * 70_000 + b'"}'
    response = raw(
        agent, "POST", "/api/v1/identify", headers={**token(agent), "Content-Type": "application/json"}, content=big
    )
    assert response.status_code == 413
    chunked = raw(
        agent,
        "POST",
        "/api/v1/identify",
        headers={**token(agent), "Content-Type": "application/json"},
        content=iter([b'{"code": "', b"1" * 70_000, b'"}']),
    )
    assert chunked.status_code == 413
    assert raw(agent, "GET", "/api/v1/health").status_code == 200


def test_security_headers(agent: RunningAgent) -> None:
    response = raw(agent, "GET", "/")
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert f"frame-ancestors 'self' {POS_ORIGIN}" in csp and "script-src 'self'" in csp
    assert response.headers["cache-control"] == "no-store"


def test_unknown_route_is_json_404(agent: RunningAgent) -> None:
    response = raw(agent, "GET", "/api/v1/nothing", headers=token(agent))
    assert response.status_code == 404 and response.json()["error"]["code"] == "not_found"


def test_listening_sockets_are_loopback_only(agent: RunningAgent) -> None:
    port = int(agent.base_url.rsplit(":", 1)[1])
    listening = _listening_addresses(port)
    assert listening, "agent port not found in /proc/net/tcp*"
    assert all(address in ("127.0.0.1",) for address in listening), listening


def _listening_addresses(port: int) -> list[str]:
    found: list[str] = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        path = Path(table)
        if not path.exists():
            continue
        for line in path.read_text().splitlines()[1:]:
            fields = line.split()
            local, state = fields[1], fields[3]
            address_hex, port_hex = local.split(":")
            if state != "0A" or int(port_hex, 16) != port:  # 0A = LISTEN
                continue
            if width == 8:
                octets = bytes.fromhex(address_hex)[::-1]
                found.append(".".join(str(b) for b in octets))
            else:
                found.append("ipv6:" + address_hex)
    return found
