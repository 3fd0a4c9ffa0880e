"""Async client for the fabric Loyalty (Member) calls a till needs.

Timeouts as for Engage: lookups are short so a slow fabric never freezes the till; earn and reward calls get a
read timeout of at least 60 s, because giving up early is how a reward gets issued without the till knowing.
Redirects are not followed (a login page is not an answer). A 401 refreshes the token once and re-sends only a
call that ``resend_on_401`` allows: every re-send of a call that has no idempotency key must first be recorded
as a new attempt by the outbox, so reward issue is never re-sent here.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from ... import __version__
from .auth import TokenProvider
from .errors import FabricAuthError, FabricHTTPError, FabricRateLimited, map_transport, raise_for_answer
from .models import Balance, EarnResult, Member, Reward, items

# Paths from fabric's reference; those not verified against a tenant are marked and corrected here.
PATH_MEMBERS = "/v1/members"
PATH_BALANCE = "/v1/inquire/{profile_id}/member-points"
PATH_EARN = "/v2/earn"
PATH_EARN_REVERSE = "/v2/earn/reverse"
PATH_REWARD_ISSUE = "/v1/redeem/reward/issue"
PATH_REWARD_REDEEM = "/v1/redeem/member-reward"
PATH_REWARD_CANCEL = "/v1/redeem/cancel"
PATH_REWARD_REVERSE = "/v1/redeem/reverse"
PATH_REWARD_HISTORY = "/v1/redeem"  # [assumed] its paging parameters are limit/offset as for members
HISTORY_PAGE = 50
HISTORY_MAX_PAGES = 20
GET_429_RETRIES = 2
GET_429_MAX_WAIT = 2.0
AUDIT_USER = "posplugin"


@dataclass(frozen=True)
class FabricTimeouts:
    connect: float = 3.0
    read: float = 10.0
    long_read: float = 75.0

    def __post_init__(self) -> None:
        if self.long_read < 60.0:
            raise ValueError("money calls need a read timeout of at least 60 s")

    @property
    def short(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.connect)

    @property
    def long(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.long_read, write=self.read, pool=self.connect)


class FabricClient:
    """One ``httpx.AsyncClient`` per agent, shared with the token provider; ``aclose`` when done."""

    def __init__(
        self,
        base_url: str,
        authorization_url: str,
        client_id: str,
        secret: Callable[[], str | None],
        *,
        agent: str = f"posplugin/{__version__}",
        timeouts: FabricTimeouts | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
        connect_retries: int = 1,
    ) -> None:
        self.timeouts = timeouts or FabricTimeouts()
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"User-Agent": agent, "Accept": "application/json"},
            timeout=self.timeouts.short,
            transport=transport or httpx.AsyncHTTPTransport(retries=connect_retries),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            follow_redirects=False,
        )
        self.tokens = TokenProvider(
            authorization_url, client_id, secret, http=self._http, clock=clock, timeout=self.timeouts.short
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> FabricClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- transport -------------------------------------------------------------------------------------

    async def _once(
        self, method: str, path: str, token: str, params: Mapping[str, Any] | None, body: Any, long: bool
    ) -> Any:
        headers = {"Authorization": f"Bearer {token}"}
        content = None
        if body is not None:
            content = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        try:
            response = await self._http.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=content,
                headers=headers,
                timeout=self.timeouts.long if long else self.timeouts.short,
            )
        except httpx.TransportError as exc:
            raise map_transport(exc, f"{method} {path.split('?')[0]}") from None
        return raise_for_answer(response.status_code, response.content, _retry_after(response))

    async def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        long: bool = False,
        resend_on_401: bool = True,
    ) -> Any:
        token = await self.tokens.token()
        try:
            return await self._once(method, path, token, params, body, long)
        except FabricAuthError as exc:
            if exc.status != 401:
                raise
            fresh = await self.tokens.refresh(token)  # a 401 means the call was not processed
            if not resend_on_401:
                raise
        return await self._once(method, path, fresh, params, body, long)

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        for attempt in range(GET_429_RETRIES + 1):
            try:
                return await self._request("GET", path, params=params)
            except FabricRateLimited as exc:
                if attempt == GET_429_RETRIES:
                    raise
                await asyncio.sleep(min(exc.retry_after or 0.5, GET_429_MAX_WAIT))
        raise AssertionError("unreachable")  # pragma: no cover

    # ---- members and points ----------------------------------------------------------------------------

    async def find_member(self, *, loyalty_number: str | None = None, profile_id: str | None = None) -> Member | None:
        """The member with that card number or profileId; None when fabric knows none."""
        if (loyalty_number is None) == (profile_id is None):
            raise ValueError("give exactly one of loyalty_number and profile_id")
        params = {"loyaltyNumber": loyalty_number, "profileId": profile_id, "limit": 2, "offset": 0}
        try:
            data = await self._get(PATH_MEMBERS, params)
        except FabricHTTPError as exc:
            if exc.status == 404:
                return None
            raise
        found = [Member.from_json(m) for m in items(data, "members", "data")]
        return found[0] if found else None

    async def balance(self, profile_id: str) -> Balance:
        return Balance.from_json(await self._get(PATH_BALANCE.format(profile_id=_seg(profile_id))))

    # ---- earn ------------------------------------------------------------------------------------------

    async def earn(self, payload: Mapping[str, Any]) -> EarnResult:
        """``POST /v2/earn``; safe to re-send only with the duplicate check on (the payload builder sets it)."""
        if payload.get("checkForDuplicateTransaction") != 1 or not payload.get("transactionExternalReference"):
            raise ValueError("an earn needs transactionExternalReference and checkForDuplicateTransaction 1")
        return EarnResult.from_json(await self._request("POST", PATH_EARN, body=dict(payload), long=True))

    async def reverse_earn(self, payload: Mapping[str, Any]) -> EarnResult:
        if not payload.get("reverseTransactionExternalRef") or payload.get("checkForDuplicateTransaction") != 1:
            raise ValueError("a reverse names the original receipt and has the duplicate check on")
        return EarnResult.from_json(await self._request("POST", PATH_EARN_REVERSE, body=dict(payload), long=True))

    # ---- rewards ---------------------------------------------------------------------------------------

    async def issue_reward(self, profile_id: str, location: str, amount: Decimal) -> Reward:
        """No idempotency key: never re-sent here, not even after a 401 (the outbox records every attempt)."""
        body = {
            "profileId": profile_id,
            "locationExternalReference": location,
            "amountToRedeem": float(amount),
            "issueAuditUser": AUDIT_USER,
        }
        data = await self._request("POST", PATH_REWARD_ISSUE, body=body, long=True, resend_on_401=False)
        return Reward.from_json(data)

    async def redeem_reward(self, profile_id: str, location: str, code: str) -> None:
        body = {
            "redemptionCode": code,
            "locationExternalReference": location,
            "profileId": profile_id,
            "redeemAuditUser": AUDIT_USER,
        }
        await self._request("POST", PATH_REWARD_REDEEM, body=body, long=True)

    async def cancel_reward(self, profile_id: str, code: str) -> None:
        body = {"redemptionCode": code, "profileId": profile_id, "cancelAuditUser": AUDIT_USER}
        await self._request("POST", PATH_REWARD_CANCEL, body=body, long=True)

    async def reverse_reward(self, profile_id: str, code: str) -> None:
        body = {"redemptionCode": code, "profileId": profile_id}
        await self._request("POST", PATH_REWARD_REVERSE, body=body, long=True)

    async def reward_history(self, profile_id: str) -> list[Reward]:
        """Every page of the member's rewards (reconciliation must not miss one on page two)."""
        found: list[Reward] = []
        for page in range(HISTORY_MAX_PAGES):
            params = {"profileId": profile_id, "limit": HISTORY_PAGE, "offset": page * HISTORY_PAGE}
            batch = [Reward.from_json(r) for r in items(await self._get(PATH_REWARD_HISTORY, params), "rewards")]
            found.extend(batch)
            if len(batch) < HISTORY_PAGE:
                break
        return found

    async def probe(self) -> float:
        """Gets a token and makes one cheap read; returns the round trip in seconds ("Test connection")."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        await self.find_member(profile_id="posplugin-probe")
        return loop.time() - started


def _seg(value: str) -> str:
    """A path segment, quoted so a scanned id can never change the path."""
    return quote(str(value), safe="")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None
