"""An in-memory Engage for unit-level outbox tests (httpx.MockTransport): vouchers, redeem, the lists."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import formatdate

import httpx

CONTACT = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"


@dataclass
class FakeVoucher:
    id: str
    redeemed_at: float | None = None
    by: str | None = None  # "us" or "other"
    expires_at: float = 4_000_000_000.0


@dataclass
class FakeEngage:
    clock: Callable[[], float]
    vouchers: dict[str, FakeVoucher] = field(default_factory=dict)
    commits: dict[str, int] = field(default_factory=dict)
    next_post: str = "ok"  # ok | commit_lost | fail_before | refuse_connect | reset_before
    gets_fail: bool = False

    def add(self, voucher_id: str) -> None:
        self.vouchers[voucher_id] = FakeVoucher(voucher_id)

    def redeem_elsewhere(self, voucher_id: str) -> bool:
        voucher = self.vouchers[voucher_id]
        if voucher.redeemed_at is not None:
            return False
        voucher.redeemed_at, voucher.by = self.clock(), "other"
        return True

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        response = self._route(request)
        response.headers["Date"] = formatdate(self.clock(), usegmt=True)  # Engage's clock, truncated to 1 s
        return response

    def _route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if request.method == "POST" and path.endswith("/redeem"):
            return self._redeem(request, path.split("/")[-2])
        if request.method == "GET" and path.startswith("/api/v3/reward-vouchers"):
            if self.gets_fail:
                raise httpx.ConnectError("down", request=request)
            which = "redeemed" if path.endswith("/redeemed") else "available" if path.endswith("available") else "all"
            return httpx.Response(200, json=self._list(which))
        return httpx.Response(404, json={"errorCode": "NotFound"})

    def _redeem(self, request: httpx.Request, voucher_id: str) -> httpx.Response:
        behaviour, self.next_post = self.next_post, "ok"
        if behaviour == "refuse_connect":
            raise httpx.ConnectError("refused", request=request)
        if behaviour == "reset_before":
            raise httpx.RemoteProtocolError("reset", request=request)
        if behaviour == "fail_before":
            return httpx.Response(504, json={"errorCode": "GatewayTimeout"})
        voucher = self.vouchers.get(voucher_id)
        if voucher is None:
            return httpx.Response(404, json={"errorCode": "RewardVoucherNotFound"})
        if voucher.redeemed_at is not None:
            return httpx.Response(409, json={"errorCode": "RewardVoucherAlreadyRedeemed"})
        voucher.redeemed_at, voucher.by = self.clock(), "us"
        self.commits[voucher_id] = self.commits.get(voucher_id, 0) + 1
        if behaviour == "commit_lost":
            raise httpx.ReadTimeout("answer lost", request=request)
        return httpx.Response(200)

    def _list(self, which: str) -> dict[str, object]:
        items = []
        for v in self.vouchers.values():
            redeemed = v.redeemed_at is not None
            if (which == "redeemed" and not redeemed) or (which == "available" and redeemed):
                continue
            items.append(
                {
                    "id": v.id,
                    "voucherNumber": "1",
                    "name": "v",
                    "redeemed": redeemed,
                    "redeemedOn": datetime.fromtimestamp(v.redeemed_at, UTC).isoformat() if redeemed else None,
                    "expiresOn": datetime.fromtimestamp(v.expires_at, UTC).isoformat(),
                    "value": {"currency": "SEK", "amount": 100},
                }
            )
        return {"items": items, "totalCount": len(items), "offset": 0, "count": len(items)}
