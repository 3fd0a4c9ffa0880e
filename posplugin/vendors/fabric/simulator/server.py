"""The fabric simulator as a real HTTP/1.1 server on loopback, with the Engage simulator's fault kinds.

The token endpoint lives on the same listener under ``/oauth2/{server}/v1/token``; the Loyalty API under
``/api``. Tokens are checked when a request arrives, as a real gateway does: a call that outlives its token
still completes. Going offline closes the listener and cuts open connections.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...faults import FaultPlan, FaultRule
from ...loopback import LoopbackListeners, RawResponses
from .state import FabricState, SimError

log = logging.getLogger(__name__)
MAX_BODY = 1024 * 1024
API = "/api"
TOKEN_ROUTE = re.compile(r"/oauth2/[^/]+/v1/token")
Route = Callable[[FabricState, dict[str, str], Any], tuple[int, str, Any]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], sim: FabricSimulator) -> None:
        self.sim = sim
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("fabric simulator connection error from %s", client_address, exc_info=True)


class _Handler(RawResponses):
    server: _Server
    server_version = "FabricSimulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("fabric sim %s", format % args)

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server is not self.server.sim._control_server:  # going offline cuts API connections only
            self.server.sim._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, False)

    def do_GET(self) -> None:
        self.server.sim._dispatch(self, "GET")

    def do_POST(self) -> None:
        self.server.sim._dispatch(self, "POST")

    def do_DELETE(self) -> None:
        self.server.sim._dispatch(self, "DELETE")

    def body(self) -> bytes | None:
        try:
            size = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            return None
        return self.rfile.read(size) if 0 <= size <= MAX_BODY else None

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.send_raw(status, json.dumps(body).encode(), "application/json", headers)

    def envelope(self, status: int, message: str, data: Any = None, errors: dict[str, str] | None = None) -> None:
        self.send_json(status, {"status": status, "message": message, "errors": errors or {}, "data": data})


def _routes() -> list[tuple[str, re.Pattern[str], Route]]:
    table: list[tuple[str, str, Route]] = [
        ("GET", r"/v1/members", lambda s, q, b: (200, "OK", s.find_members(q))),
        ("GET", r"/v1/inquire/([^/]+)/member-points", lambda s, q, b: (200, "OK", s.member_points(q["_1"]))),
        ("POST", r"/v2/earn", lambda s, q, b: (201, "earned", s.earn(b, reverse=False))),
        ("POST", r"/v2/earn/reverse", lambda s, q, b: (201, "earn reversed", s.earn(b, reverse=True))),
        ("POST", r"/v1/redeem/reward/issue", lambda s, q, b: (201, "Created", s.issue_reward(b))),
        (
            "POST",
            r"/v1/redeem/member-reward",
            lambda s, q, b: (200, "Redeem Member Reward succeed.", s.redeem_reward(b)),
        ),
        ("POST", r"/v1/redeem/cancel", lambda s, q, b: (200, "Reward cancelled successfully.", s.cancel_reward(b))),
        ("POST", r"/v1/redeem/reverse", lambda s, q, b: (200, "Reward reversed successfully.", s.reverse_reward(b))),
        ("GET", r"/v1/redeem", lambda s, q, b: (200, "OK", s.reward_history(q))),
    ]
    return [(method, re.compile(API + pattern), func) for method, pattern, func in table]


class FabricSimulator(LoopbackListeners):
    """Owns the state and the fault plan; the listener (toggled by ``set_offline``) is ``LoopbackListeners``'."""

    thread_prefix = "fabric-sim"

    def __init__(
        self, state: FabricState, *, host: str = "127.0.0.1", port: int = 0, control_port: int | None = None
    ) -> None:
        super().__init__(host, port, control_port)
        self.state = state
        self.faults = FaultPlan()
        self.requests = 0
        self._routes = _routes()

    @property
    def url(self) -> str:
        """The Loyalty base URL (``[fabric] base_url``)."""
        return f"http://{self.host}:{self.port}{API}"

    @property
    def authorization_url(self) -> str:
        return f"http://{self.host}:{self.port}/oauth2/sim"

    def _make_server(self, port: int) -> _Server:
        return _Server((self.host, port), self)

    # ---- requests --------------------------------------------------------------------------------------

    def _dispatch(self, h: _Handler, method: str) -> None:
        raw = h.body()
        if raw is None:
            h.envelope(413, "Request too large")
            return
        parts = urlsplit(h.path)
        path = unquote(parts.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        if h.server is self._control_server:
            self._control(h, method, path, raw)
            return
        self.requests += 1
        if method == "POST" and TOKEN_ROUTE.fullmatch(path):
            self._token(h, path, raw)
            return
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or not self.state.token_valid(auth[7:]):
            h.envelope(401, "Unauthorized", errors={"authorization": "missing, unknown or expired token"})
            return
        if method == "POST" and "application/json" not in h.headers.get("Content-Type", ""):
            h.envelope(415, "Unsupported Media Type", errors={"contentType": "application/json required"})
            return
        try:
            body: Any = json.loads(raw) if raw.strip() else None
        except ValueError:
            h.envelope(400, "Bad Request", errors={"body": "not JSON"})
            return
        if self.faults.latency:
            time.sleep(self.faults.latency)
        rule = self.faults.take(method, path)
        if rule is not None and self._fault_before(h, rule):
            return
        self._serve(h, method, path, query, body, rule)

    def _serve(
        self, h: _Handler, method: str, path: str, query: dict[str, str], body: Any, rule: FaultRule | None
    ) -> None:
        found = next(
            ((f, m) for verb, pattern, f in self._routes if verb == method and (m := pattern.fullmatch(path))), None
        )
        if found is None:
            h.envelope(404, "Not Found", errors={"path": f"no route {method} {path}"})
            return
        func, match = found
        query = {**query, **{f"_{n}": g for n, g in enumerate(match.groups(), start=1)}}
        try:
            status, message, data = func(self.state, query, body)
        except SimError as exc:
            h.envelope(exc.status, exc.message, errors=exc.errors)
            return
        except Exception:  # a simulator bug must look like a fabric 500, not a dropped connection
            log.exception("fabric simulator failed on %s %s", method, path)
            h.envelope(500, "Internal Server Error")
            return
        if rule is not None and rule.kind == "reset_after_commit":
            h.reset()
            return
        if rule is not None and rule.kind == "slow_commit":
            self._stopping.wait(rule.delay)
        h.envelope(status, message, data)

    def _fault_before(self, h: _Handler, rule: FaultRule) -> bool:
        """Faults that act before processing; True when the request is finished."""
        kind = rule.kind
        if kind in ("latency", "slow_save"):
            self._stopping.wait(rule.delay)
            return False
        if kind == "error":
            h.send_raw(rule.status, b"<html><body><h1>Service Unavailable</h1></body></html>", "text/html")
        elif kind == "gateway_timeout":
            self._stopping.wait(rule.delay)
            h.envelope(504, "Gateway Timeout")
        elif kind == "reset_before":
            h.reset()
        elif kind == "blackhole":
            self._stopping.wait(rule.delay or 120.0)
            h.reset()
        elif kind == "rate_limit":
            wait = {"Retry-After": str(int(rule.delay or 1))}
            h.send_json(429, {"status": 429, "message": "Too Many Requests"}, wait)
        elif kind == "garbage":
            payload = (rule.body or "<html>Internal error</html>").encode()
            h.send_raw(200, payload, "text/html" if payload.startswith(b"<") else "application/json")
        else:
            return False  # slow_commit and reset_after_commit act after processing
        return True

    def _control(self, h: _Handler, method: str, path: str, raw: bytes) -> None:
        """Faults, offline and settings at run time, for the demo and browser tests (never on the API port)."""
        try:
            body: Any = json.loads(raw) if raw.strip() else {}
            if (method, path) == ("POST", "/_sim/offline"):
                self.set_offline(bool(body.get("offline", True)))
            elif (method, path) == ("POST", "/_sim/faults"):
                if "latency" in body:
                    self.faults.latency = float(body["latency"])
                for rule in body.get("rules", []):
                    self.faults.add(FaultRule.from_json(rule))
            elif (method, path) == ("DELETE", "/_sim/faults"):
                self.faults.clear()
            elif (method, path) == ("POST", "/_sim/settings"):
                if "tokenTtl" in body:
                    self.state.settings.token_ttl = float(body["tokenTtl"])
            elif (method, path) == ("POST", "/_sim/revoke-tokens"):
                self.state.revoke_tokens()
            elif (method, path) != ("GET", "/_sim/state"):
                h.send_json(404, {"error": "no such control route"})
                return
            h.send_json(200, self.describe())
        except (ValueError, TypeError, AttributeError) as exc:
            h.send_json(400, {"error": str(exc)})

    def describe(self) -> dict[str, Any]:
        state = self.state
        return {
            "offline": self.offline,
            "faults": self.faults.describe(),
            "tokenTtl": state.settings.token_ttl,
            "requests": self.requests,
            "tokenRequests": state.token_requests,
            "earnCommits": state.earn_commits,
            "duplicateEarns": state.duplicate_earns,
            "rewardIssues": state.issue_commits,
            "rewards": len(state.rewards),
        }

    def _token(self, h: _Handler, path: str, raw: bytes) -> None:
        form = dict(parse_qsl(raw.decode("utf-8", "replace")))
        client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        auth = h.headers.get("Authorization", "")
        if auth.startswith("Basic "):
            try:
                client_id, _, secret = base64.b64decode(auth[6:]).decode().partition(":")
            except ValueError:
                client_id = secret = ""
        rule = self.faults.take("POST", path)
        if rule is not None and self._fault_before(h, rule):
            return
        try:
            h.send_json(200, self.state.issue_token(client_id, secret, form))
        except SimError as exc:
            h.send_json(exc.status, {"error": exc.message})
