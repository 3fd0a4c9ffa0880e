"""Local security as one ASGI middleware, in front of every route.

- Host must be exactly ``127.0.0.1:<port>`` or ``localhost:<port>`` (DNS rebinding).
- A cross-origin ``Origin`` must be in the allowlist: exact match, never ``*``. Preflights (including Chrome's
  private-network access request) are answered for allowed origins only.
- ``/api/v1/*`` except health needs ``X-POS-Token`` (401 without it); a state change with a body needs
  ``Content-Type: application/json``.
- Bodies are capped and read once here, so no route ever sees an unbounded body.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..texts import message

PUBLIC_API = {"/api/v1/health"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
TOKEN_HEADER = b"x-pos-token"


@dataclass
class SecurityPolicy:
    port: int
    allowed_origins: frozenset[str]
    token: Callable[[], str]
    max_body_bytes: int
    language: str = "en"

    @property
    def allowed_hosts(self) -> set[str]:
        return {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}

    @property
    def own_origins(self) -> set[str]:
        return {f"http://127.0.0.1:{self.port}", f"http://localhost:{self.port}"}

    def origin_allowed(self, origin: str) -> bool:
        return origin in self.own_origins or origin in self.allowed_origins


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, policy: SecurityPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = _headers(scope)
        method: str = scope["method"]
        path: str = scope["path"]
        policy = self.policy
        origin = headers.get("origin")
        cors = origin if origin and origin not in policy.own_origins and policy.origin_allowed(origin) else None

        if headers.get("host") not in policy.allowed_hosts:
            await _error(send, 400, "bad_host", policy, None)
            return
        if origin is not None and origin != "null" and not policy.origin_allowed(origin):
            await _error(send, 403, "forbidden_origin", policy, None)
            return
        if origin == "null" and method in STATE_CHANGING:
            await _error(send, 403, "forbidden_origin", policy, None)
            return
        if method == "OPTIONS":
            await _preflight(send, headers, cors)
            return
        if path.startswith("/api/") and path not in PUBLIC_API:
            supplied = headers.get(TOKEN_HEADER.decode(), "")
            if not supplied or not hmac.compare_digest(supplied.encode(), policy.token().encode()):
                await _error(send, 401, "unauthorized", policy, cors)
                return
            # A call that takes no body may come without one and without a Content-Type (generated clients do).
            if method in STATE_CHANGING and _may_have_body(headers) and not _is_json(headers):
                await _error(send, 415, "unsupported_media_type", policy, cors)
                return

        body = b""
        if method in STATE_CHANGING:
            declared = headers.get("content-length")
            if declared is not None and (not declared.isdigit() or int(declared) > policy.max_body_bytes):
                await _error(send, 413, "payload_too_large", policy, cors)
                return
            chunks: list[bytes] = []
            size = 0
            more = True
            while more:
                message_in = await receive()
                if message_in["type"] == "http.disconnect":
                    return
                chunk = message_in.get("body", b"")
                size += len(chunk)
                if size > policy.max_body_bytes:
                    await _error(send, 413, "payload_too_large", policy, cors)
                    return
                chunks.append(chunk)
                more = message_in.get("more_body", False)
            body = b"".join(chunks)

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if method in STATE_CHANGING and not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_with_headers(msg: Message) -> None:
            if msg["type"] == "http.response.start":
                extra = list(_security_headers(policy, path))
                if cors:
                    extra += _cors_headers(cors)
                msg = dict(msg)
                msg["headers"] = [*msg.get("headers", []), *extra]
            await send(msg)

        await self.app(scope, replay, send_with_headers)


def _may_have_body(headers: dict[str, str]) -> bool:
    return headers.get("content-length", "0") != "0" or "transfer-encoding" in headers


def _is_json(headers: dict[str, str]) -> bool:
    return headers.get("content-type", "").startswith("application/json")


def _headers(scope: Scope) -> dict[str, str]:
    result: dict[str, str] = {}
    for key, value in scope["headers"]:
        result[key.decode("latin-1").lower()] = value.decode("latin-1")
    return result


def _security_headers(policy: SecurityPolicy, path: str) -> Iterable[tuple[bytes, bytes]]:
    # The cashier panel may sit in a frame of an allowed POS app; the PIN-protected settings page never may.
    settings = path == "/settings" or path.startswith("/settings/")
    ancestors = "'none'" if settings else " ".join(["'self'", *sorted(policy.allowed_origins)])
    if settings:
        yield b"x-frame-options", b"DENY"
        yield b"cache-control", b"no-store"
    yield b"x-content-type-options", b"nosniff"
    yield b"referrer-policy", b"no-referrer"
    yield (
        b"content-security-policy",
        f"default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        f"connect-src 'self'; frame-ancestors {ancestors}".encode(),
    )
    if path.startswith("/api/"):
        yield b"cache-control", b"no-store"


def _cors_headers(origin: str) -> list[tuple[bytes, bytes]]:
    return [
        (b"access-control-allow-origin", origin.encode()),
        (b"vary", b"Origin"),
        (b"access-control-expose-headers", b"Content-Type"),
    ]


async def _preflight(send: Send, headers: dict[str, str], cors: str | None) -> None:
    if cors is None:
        await _raw(send, 403, b"", [])
        return
    extra = [
        *_cors_headers(cors),
        (b"access-control-allow-methods", b"GET, POST"),
        (b"access-control-allow-headers", b"Content-Type, X-POS-Token"),
        (b"access-control-max-age", b"600"),
    ]
    if headers.get("access-control-request-private-network") == "true":
        extra.append((b"access-control-allow-private-network", b"true"))
    await _raw(send, 204, b"", extra)


async def _error(send: Send, status: int, code: str, policy: SecurityPolicy, cors: str | None) -> None:
    body = json.dumps({"error": {"code": code, "message": message(code, policy.language)}}, ensure_ascii=False).encode()
    extra = [(b"content-type", b"application/json"), *_security_headers(policy, "/api/")]
    if cors:
        extra += _cors_headers(cors)
    await _raw(send, status, body, extra)


async def _raw(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    all_headers: list[Any] = [(b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": all_headers})
    await send({"type": "http.response.body", "body": body})
