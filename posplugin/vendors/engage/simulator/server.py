"""The simulator as a real HTTP/1.1 server on loopback, with a separate control port.

Going offline closes the API listener and every open connection, so clients see exactly what a dead network
shows them: connection refused, not a polite error. The control port stays up so tests and the demo can bring
the API back.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ...faults import FaultPlan, FaultRule
from ...loopback import LoopbackListeners, RawResponses
from .contact_creation import check_new_contact, create_contact
from .state import SimError, SimState

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024
Route = Callable[["SimHandler", re.Match[str], dict[str, str], Any], tuple[int, Any]]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sim: EngageSimulator):
        self.sim = sim
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("simulator connection error from %s", client_address, exc_info=True)


class SimHandler(RawResponses):
    server: _Server
    server_version = "EngageSimulator"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("sim %s", format % args)

    def setup(self) -> None:
        super().setup()
        # Headers and body go out as two writes; without NODELAY, Nagle + delayed ACK add ~40 ms per answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.server is not self.server.sim._control_server:  # going offline cuts API connections only
            self.server.sim._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.sim._track(self.connection, False)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    # ---- plumbing --------------------------------------------------------------------------------------

    def _read_body(self) -> bytes | None:
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        try:
            size = int(length)
        except ValueError:
            return None
        if size < 0 or size > MAX_BODY:
            return None
        return self.rfile.read(size)

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        self.send_raw(status, payload, "application/json; charset=utf-8", headers)

    def send_error_code(self, status: int, code: str, message: str = "") -> None:
        self.send_json(status, {"errorCode": code, "message": message or code, "status": status})

    def _dispatch(self, method: str) -> None:
        sim = self.server.sim
        body_bytes = self._read_body()
        if body_bytes is None:
            self.send_error_code(413, "RequestTooLarge")
            return
        parts = urlsplit(self.path)
        path = unquote(parts.path)
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        if self.server is sim._control_server:
            sim._control(self, method, path, body_bytes)
            return
        sim._count_request(method, path)
        if (method, path) == ("POST", "/api/v3/contacts"):
            sim.stats["contact_creates"] += 1  # every create that reached Engage, whatever became of it
        if sim.offline:
            self.reset()
            return
        api_key = self.headers.get("apikey", "")
        if sim._over_rate_limit(api_key):
            self.send_json(429, {"errorCode": "TooManyRequests"}, {"Retry-After": "1"})
            return
        if api_key != sim.api_key:
            self.send_error_code(401, "Unauthorized", "missing or wrong apikey header")
            return
        if "application/json" not in self.headers.get("Content-Type", ""):
            self.send_error_code(500, "InvalidSystemConfiguration", "Content-Type: application/json is required")
            return
        try:
            body: Any = json.loads(body_bytes) if body_bytes.strip() else None
        except ValueError:
            self.send_error_code(400, "InvalidRequest", "body is not JSON")
            return
        if sim.faults.latency:
            time.sleep(sim.faults.latency)
        rule = sim.faults.take(method, path)
        if rule is not None and self._apply_fault_before(rule, sim):
            return
        sim._serve_api(self, method, path, params, body, rule)

    def _apply_fault_before(self, rule: FaultRule, sim: EngageSimulator) -> bool:
        """Faults that act before the request is processed; True when the request is finished."""
        kind = rule.kind
        if kind == "latency":
            time.sleep(rule.delay)
            return False
        if kind == "error":
            page = b"<html><body><h1>Service Unavailable</h1></body></html>"
            self.send_raw(rule.status, page, "text/html")
            return True
        if kind == "gateway_timeout":
            time.sleep(rule.delay)
            self.send_error_code(504, "GatewayTimeout")
            return True
        if kind == "reset_before":
            self.reset()
            return True
        if kind == "blackhole":
            sim._stopping.wait(rule.delay or 120.0)
            self.reset()
            return True
        if kind == "rate_limit":
            self.send_json(429, {"errorCode": "TooManyRequests"}, {"Retry-After": str(int(rule.delay or 1))})
            return True
        if kind == "garbage":
            payload = (rule.body or "<html>Internal error</html>").encode()
            self.send_raw(200, payload, "text/html" if payload.startswith(b"<") else "application/json")
            return True
        if kind == "trickle":
            payload = (rule.body or '"' + "0" * 200 + '"').encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.flush()
            for byte in payload:
                if sim._stopping.wait(rule.delay or 0.5):
                    break
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:
                    break
            self.close_connection = True
            return True
        if kind == "redirect":
            status = rule.status if 300 <= rule.status < 400 else 302
            page = b"<html><body>Please log in to continue</body></html>"
            self.send_raw(status, page, "text/html", {"Location": "http://portal.invalid/login"})
            return True
        return False  # slow_save, slow_commit, reset_after_commit act inside processing


GUID = r"[^/]+"


class EngageSimulator(LoopbackListeners):
    """Owns the state and the fault plan; the listeners are ``LoopbackListeners``'."""

    thread_prefix = "engage-sim"

    def __init__(
        self,
        state: SimState,
        *,
        api_key: str = "demo-key",
        host: str = "127.0.0.1",
        port: int = 0,
        control_port: int | None = None,
        rate_limit_per_second: int = 200,
    ) -> None:
        super().__init__(host, port, control_port)
        self.state = state
        self.api_key = api_key
        self.rate_limit_per_second = rate_limit_per_second
        self.faults = FaultPlan()
        self._rate_window: dict[str, tuple[int, int]] = {}
        self._rate_lock = threading.Lock()
        self.stats: Counter[str] = Counter()
        self.per_second: Counter[int] = Counter()
        self.recent: deque[tuple[str, str]] = deque(maxlen=1000)  # (method, path) of the last requests, for tests
        self.routes: list[tuple[str, re.Pattern[str], Route]] = _routes()

    # ---- lifecycle -------------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _make_server(self, port: int) -> _Server:
        return _Server((self.host, port), SimHandler, self)

    # ---- accounting ------------------------------------------------------------------------------------

    def _count_request(self, method: str, path: str) -> None:
        second = int(time.time())
        with self._rate_lock:
            self.stats["requests"] += 1
            self.per_second[second] += 1
            self.recent.append((method, path))

    def _over_rate_limit(self, api_key: str) -> bool:
        second = int(time.time())
        with self._rate_lock:
            window, count = self._rate_window.get(api_key, (second, 0))
            if window != second:
                window, count = second, 0
            count += 1
            self._rate_window[api_key] = (window, count)
            if count > self.rate_limit_per_second:
                self.stats["rate_limited"] += 1
                return True
        return False

    # ---- API -------------------------------------------------------------------------------------------

    def _serve_api(
        self, handler: SimHandler, method: str, path: str, params: dict[str, str], body: Any, rule: FaultRule | None
    ) -> None:
        found = self._route(method, path)
        if found is None:
            handler.send_error_code(404, "NotFound", f"no route {method} {path}")
            return
        func, match = found
        try:
            if func is _redeem:
                status, result = self._redeem(match.group(1), rule)
            elif func is _redeem_promotion:
                status, result = self._redeem_promotion(match.group(1), body, rule)
            elif func is _create_contact:
                status, result = self._create_contact(params, body, rule)
            else:
                status, result = func(handler, match, params, body)
        except SimError as exc:
            handler.send_error_code(exc.status, exc.code, exc.message)
            return
        except Exception:  # a simulator bug must look like an Engage 500, not a dropped connection
            log.exception("simulator failed on %s %s", method, path)
            handler.send_error_code(500, "InternalError")
            return
        if rule is not None and rule.kind == "reset_after_commit":
            handler.reset()
            return
        if rule is not None and rule.kind == "slow_commit" and func not in (_redeem, _redeem_promotion):
            time.sleep(rule.delay)
        handler.send_json(status, result)

    def _route(self, method: str, path: str) -> tuple[Route, re.Match[str]] | None:
        for route_method, pattern, func in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return func, match
        return None

    def _redeem(self, voucher_id: str, rule: FaultRule | None) -> tuple[int, Any]:
        self.state.check_redeemable(voucher_id)
        return self._save_or_give_up(lambda: self.state.commit_redeem(voucher_id), rule)

    def _redeem_promotion(self, assignment_id: str, body: Any, rule: FaultRule | None) -> tuple[int, Any]:
        """The same point of no return as a voucher's (engage-api.md, "Multichannel promotions")."""
        channel = self.state.promotions.check_redeemable(assignment_id, body)
        return self._save_or_give_up(lambda: self.state.promotions.commit_redeem(assignment_id, channel), rule)

    def _save_or_give_up(self, commit: Callable[[], None], rule: FaultRule | None) -> tuple[int, Any]:
        """Seed 004: before the point of no return Engage may give up (504, nothing saved); after it, it finishes."""
        save_delay = rule.delay if rule is not None and rule.kind == "slow_save" else 0.0
        ponr = self.state.settings.point_of_no_return
        if save_delay >= ponr:
            time.sleep(ponr)
            raise SimError(504, "GatewayTimeout")
        time.sleep(save_delay)
        commit()
        if rule is not None and rule.kind == "slow_commit":
            time.sleep(rule.delay)
        return 200, None

    def _create_contact(self, params: dict[str, str], body: Any, rule: FaultRule | None) -> tuple[int, Any]:
        """Engage gives up on a new contact after about 5 s with a 504 and rolls the work back [doc]: the request
        is checked first (a bad one is refused at once), then the work runs into the limit and nothing is saved."""
        new = check_new_contact(self.state, params, body)
        if rule is not None and rule.kind == "rollback_timeout":
            self._stopping.wait(rule.delay or self.state.settings.contact_create_limit)
            raise SimError(504, "GatewayTimeout", "the contact was not saved")
        return create_contact(self.state, new)

    # ---- control ---------------------------------------------------------------------------------------

    def _control(self, handler: SimHandler, method: str, path: str, raw: bytes) -> None:
        try:
            body: Any = json.loads(raw) if raw.strip() else {}
            if (method, path) == ("GET", "/_sim/state"):
                handler.send_json(200, self.describe())
            elif (method, path) == ("POST", "/_sim/offline"):
                self.set_offline(bool(body.get("offline", True)))
                handler.send_json(200, {"offline": self.offline})
            elif (method, path) == ("POST", "/_sim/faults"):
                if "latency" in body:
                    self.faults.latency = float(body["latency"])
                for rule in body.get("rules", []):
                    self.faults.add(FaultRule.from_json(rule))
                handler.send_json(200, self.faults.describe())
            elif (method, path) == ("DELETE", "/_sim/faults"):
                self.faults.clear()
                handler.send_json(200, self.faults.describe())
            elif (method, path) == ("POST", "/_sim/settings"):
                settings = self.state.settings
                if "receiptPointsDelay" in body:
                    settings.receipt_points_delay = float(body["receiptPointsDelay"])
                if "contactCreateLimit" in body:
                    settings.contact_create_limit = float(body["contactCreateLimit"])
                handler.send_json(
                    200,
                    {
                        "receiptPointsDelay": settings.receipt_points_delay,
                        "contactCreateLimit": settings.contact_create_limit,
                    },
                )
            elif (method, path) == ("POST", "/_sim/redeem-elsewhere"):
                self.state.redeem_elsewhere(str(body.get("voucherId", "")))
                handler.send_json(200, {"redeemed": True})
            elif (method, path) == ("POST", "/_sim/redeem-promotion-elsewhere"):
                self.state.promotions.redeem_elsewhere(str(body.get("assignmentId", "")))
                handler.send_json(200, {"redeemed": True})
            else:
                handler.send_error_code(404, "NotFound")
        except SimError as exc:
            handler.send_error_code(exc.status, exc.code, exc.message)
        except (ValueError, TypeError, AttributeError) as exc:
            handler.send_error_code(400, "InvalidRequest", str(exc))

    def describe(self) -> dict[str, Any]:
        return {
            "offline": self.offline,
            "faults": self.faults.describe(),
            "stats": dict(self.stats),
            "perSecond": {str(k): v for k, v in sorted(self.per_second.items())[-600:]},
            "contacts": len(self.state.contacts),
            "contactsCreated": len(self.state.created_contacts),
            "redeemCommits": dict(self.state.redeem_commits),
            "promotionRedeemCommits": dict(self.state.promotions.redeem_commits),
            "receipts": len(self.state.receipts),
            "duplicateReceipts": self.state.duplicate_receipts,
            "bulkBatches": list(self.state.bulk_batches),
        }


# ---- routes ---------------------------------------------------------------------------------------------


def _redeem(h: SimHandler, m: re.Match[str], q: dict[str, str], b: Any) -> tuple[int, Any]:
    raise AssertionError("handled by EngageSimulator._redeem")  # pragma: no cover


def _redeem_promotion(h: SimHandler, m: re.Match[str], q: dict[str, str], b: Any) -> tuple[int, Any]:
    raise AssertionError("handled by EngageSimulator._redeem_promotion")  # pragma: no cover


def _create_contact(h: SimHandler, m: re.Match[str], q: dict[str, str], b: Any) -> tuple[int, Any]:
    raise AssertionError("handled by EngageSimulator._create_contact")  # pragma: no cover


def _reactivate(h: SimHandler, m: re.Match[str], q: dict[str, str], b: Any) -> tuple[int, Any]:
    h.server.sim.state.reactivate(m.group(1))
    return 200, None


def _routes() -> list[tuple[str, re.Pattern[str], Route]]:
    def s(h: SimHandler) -> SimState:
        return h.server.sim.state

    table: list[tuple[str, str, Route]] = [
        ("GET", r"/api/v3/contacts/id", lambda h, m, q, b: (200, s(h).find_contact_id(q))),
        ("POST", r"/api/v3/contacts", _create_contact),
        ("GET", rf"/api/v3/contacts/({GUID})", lambda h, m, q, b: (200, s(h).contact(m.group(1)))),
        ("GET", r"/api/v3/point-accounts", lambda h, m, q, b: (200, s(h).point_accounts(q.get("contactId")))),
        ("GET", r"/api/v3/point-accounts/definitions", lambda h, m, q, b: (200, s(h).point_definitions())),
        (
            "GET",
            r"/api/v3/point-accounts/definitions/([^/]+)",
            lambda h, m, q, b: (200, s(h).point_definition(m.group(1))),
        ),
        ("POST", r"/api/v3/point-accounts/transactions", lambda h, m, q, b: (202, s(h).add_point_transactions_bulk(b))),
        ("GET", r"/api/v3/point-accounts/([^/]+)", lambda h, m, q, b: (200, s(h).point_account(m.group(1)))),
        ("GET", r"/api/v3/point-transactions", lambda h, m, q, b: (200, s(h).point_transactions(q))),
        ("GET", r"/api/v3/point-transactions/([^/]+)", lambda h, m, q, b: (200, s(h).point_transaction(m.group(1)))),
        ("POST", r"/api/v3/point-transactions", lambda h, m, q, b: s(h).add_point_transaction(b)),
        ("GET", r"/api/v3/reward-vouchers", lambda h, m, q, b: (200, s(h).list_vouchers("all", q))),
        ("GET", r"/api/v3/reward-vouchers/available", lambda h, m, q, b: (200, s(h).list_vouchers("available", q))),
        ("GET", r"/api/v3/reward-vouchers/redeemed", lambda h, m, q, b: (200, s(h).list_vouchers("redeemed", q))),
        ("POST", r"/api/v3/reward-vouchers/([^/]+)/redeem", _redeem),
        ("POST", r"/api/v3/reward-vouchers/([^/]+)/reactivate", _reactivate),
        ("GET", r"/api/v3/point-shop-items", lambda h, m, q, b: (200, s(h).shop_items(q.get("contactId")))),
        ("POST", r"/api/v3/point-shop-items/purchase", lambda h, m, q, b: (200, s(h).purchase(b))),
        ("GET", r"/api/v3/point-shop-item-purchases", lambda h, m, q, b: (200, s(h).purchases_of(q.get("contactId")))),
        ("POST", r"/api/v3/receipts", lambda h, m, q, b: s(h).receipt(b)),
        (
            "GET",
            rf"/api/v2/contacts/({GUID})/promotions",
            lambda h, m, q, b: (200, s(h).promotions.list_for(m.group(1), q)),
        ),
        ("POST", r"/api/v3/promotion-assignments", lambda h, m, q, b: (200, s(h).promotions.assign_from_request(b))),
        ("POST", r"/api/v3/promotion-assignments/([^/]+)/redeem", _redeem_promotion),
    ]
    return [(method, re.compile(pattern), func) for method, pattern, func in table]
