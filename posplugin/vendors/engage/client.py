"""Async client for the Engage v3 endpoints the agent uses.

Two timeout classes: lookups are short so a slow Engage never freezes the till; redeem/purchase/receipt calls
get a read timeout of at least 60 s because aborting them early is how vouchers get redeemed without the till
knowing (seed 004). Only connect-level failures are retried here; a POST is never re-sent blindly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from ... import __version__
from .errors import (
    EngageAuthError,
    EngageBadResponse,
    EngageBusy,
    EngageHTTPError,
    EngageNoAnswer,
    EngageRateLimited,
    EngageServerError,
    EngageUnreachable,
    parse_error_code,
)
from .models import (
    BulkResult,
    Contact,
    Page,
    PointAccount,
    PointDefinition,
    PointShopItem,
    PointShopPurchase,
    PointTransaction,
    PostResult,
    Promotion,
    Voucher,
    parse_page,
)
from .timeparse import parse_http_date

log = logging.getLogger(__name__)

API = "/api/v3"
# Paths not spelled out by the vendor docs are marked; correct them here against a real tenant.
PATH_POINT_DEFINITIONS = f"{API}/point-accounts/definitions"  # list path assumed; /definitions/{id} is in seed 000
PATH_POINT_SHOP_PURCHASE = f"{API}/point-shop-items/purchase"  # assumed from seed 002's wording
PATH_POINT_SHOP_PURCHASES = f"{API}/point-shop-item-purchases"  # shape assumed
# A contact's multichannel promotions: documented for v2 only [doc, v2]; no v3 list path is documented. The
# ``redemptionChannelType`` filter is documented; leaving it out for every channel is [assumed].
PATH_CONTACT_PROMOTIONS = "/api/v2/contacts/{contact_id}/promotions"
PATH_PROBE = PATH_POINT_DEFINITIONS  # cheap GET used by the online probe and "Test connection"
BULK_LIMIT = 1000
VOUCHER_LISTS = ("all", "available", "redeemed")
GET_429_RETRIES = 2
GET_429_MAX_WAIT = 2.0  # seconds; the cashier path never sleeps longer than this on a 429


EMPTY_OR_JSON, EMPTY_OR_OBJECT = "empty or JSON", "empty or a JSON object"


@dataclass(frozen=True)
class Answer:
    """What Engage's "yes" to one POST looks like: the status(es) it is documented with and the body's shape.
    Anything else (a 3xx, an HTML page, a JSON array where an object belongs) is not taken as success."""

    statuses: frozenset[int]
    body: str = EMPTY_OR_OBJECT


# Seed 004 documents "HTTP 200 OK" for redeem and reactivate and says nothing of a body [doc]; that the body is
# empty or JSON is [assumed]. Promotion redemption follows the same pattern (engage-api.md).
VOUCHER_ANSWER = Answer(frozenset({200}), EMPTY_OR_JSON)
PROMOTION_ANSWER = Answer(frozenset({200}), EMPTY_OR_JSON)
# Success statuses of these are not documented: 202 was seen for point transactions and is the bulk call's; a
# JSON object (or nothing) as the body is [assumed].
RECEIPT_ANSWER = Answer(frozenset({200, 201, 202}))
POINT_TRANSACTION_ANSWER = Answer(frozenset({200, 201, 202}))
POINT_SHOP_PURCHASE_ANSWER = Answer(frozenset({200, 201, 202}))
# A new contact: 201 with the contact is the v2 SDK's documented answer [v2]; 200 is accepted too [assumed].
CONTACT_CREATE_ANSWER = Answer(frozenset({200, 201}), EMPTY_OR_JSON)
PATH_CONTACTS = f"{API}/contacts"
CONTACT_SOURCE = "POS"  # the source a till's registrations carry [doc]


@dataclass(frozen=True)
class EngageTimeouts:
    connect: float = 3.0
    read: float = 10.0
    long_read: float = 75.0

    @property
    def short(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.read, write=self.read, pool=self.connect)

    @property
    def long(self) -> httpx.Timeout:
        return httpx.Timeout(connect=self.connect, read=self.long_read, write=self.read, pool=self.connect)


def user_agent(store_id: str, till_id: str, suffix: str = "") -> str:
    """The User-Agent naming this till; always a valid header value, whatever the config's ids contain."""
    where = "/".join(x for x in (store_id, till_id) if x)
    agent = f"posplugin/{__version__}" + (f" ({where})" if where else "")
    return header_safe(f"{agent} {suffix}".strip())


def header_safe(text: str) -> str:
    """Printable ASCII as it is; anything else (``ö``, a line break) percent-encoded as UTF-8. A header value
    must be ASCII without control characters, and ``Malmö C`` is a fine store name."""
    return "".join(ch if " " <= ch <= "~" else quote(ch, safe="") for ch in text)


class EngageClient:
    """One ``httpx.AsyncClient`` per agent; use as an async context manager or call ``aclose``."""

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        agent: str = f"posplugin/{__version__}",
        timeouts: EngageTimeouts | None = None,
        connect_retries: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.timeouts = timeouts or EngageTimeouts()
        self._clock = clock
        self._api_key = api_key
        self.server_offset: float | None = None
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={
                "User-Agent": header_safe(agent),
                "Content-Type": "application/json",
                "Accept": "application/json",
            },
            timeout=self.timeouts.short,
            transport=transport or httpx.AsyncHTTPTransport(retries=connect_retries),
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=8),
            follow_redirects=False,
        )

    @property
    def base_url(self) -> str:
        return str(self._http.base_url)

    @property
    def has_api_key(self) -> bool:
        return bool(self._api_key)

    def set_api_key(self, api_key: str | None) -> None:
        self._api_key = api_key

    def reconfigure(self, base_url: str, agent: str, api_key: str | None = None) -> None:
        """Point later requests at another Engage (settings page); requests in flight finish where they went.
        A new address comes with its key in the same step, so no request carries the old key to it."""
        if api_key is not None:
            self._api_key = api_key
        self._http.base_url = httpx.URL(base_url.rstrip("/"))
        self._http.headers["User-Agent"] = header_safe(agent)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> EngageClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- transport -------------------------------------------------------------------------------------

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        long: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        headers = {"apikey": self._api_key} if self._api_key else {}
        headers.update(extra_headers or {})
        content = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        try:
            response = await self._http.request(
                method,
                path,
                params={k: v for k, v in (params or {}).items() if v is not None},
                content=content,
                headers=headers,
                timeout=self.timeouts.long if long else self.timeouts.short,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # Nothing went out: no connection, or a request our side refused to write.
            raise EngageUnreachable(f"cannot reach Engage: {type(exc).__name__}") from exc
        except httpx.PoolTimeout as exc:
            # Our own connections were all in use: congestion here, nothing sent, and no news about Engage.
            raise EngageBusy("all connections to Engage are busy") from exc
        except httpx.TransportError as exc:
            # ReadTimeout, ReadError, RemoteProtocolError, WriteError...: the request may have been processed.
            raise EngageNoAnswer(f"no answer from Engage: {type(exc).__name__}") from exc
        server_now = parse_http_date(response.headers.get("date"))
        if server_now is not None:
            # Engage's clock relative to ours (Date has 1 s resolution); used to place redemptions in time.
            self.server_offset = server_now.timestamp() - self._clock()
        return response

    @staticmethod
    def _raise_for_status(response: httpx.Response) -> None:
        if 200 <= response.status_code < 300:
            return
        if response.status_code < 400:
            # Engage does not redirect its API; a 3xx is a captive portal, a proxy or a wrong address.
            where = httpx.URL(response.headers.get("location", "")).host or "elsewhere"
            raise EngageBadResponse(f"HTTP {response.status_code} redirect to {where}", response.status_code)
        code, detail = parse_error_code(response.content, response.headers.get("content-type", ""))
        status = response.status_code
        server_date = parse_http_date(response.headers.get("date"))
        if status == 429:
            raise EngageRateLimited(status, code or "TooManyRequests", detail, _retry_after(response))
        if status in (401, 403):
            raise EngageAuthError(status, code, detail, server_date)
        if status >= 500:
            raise EngageServerError(status, code, detail, server_date)
        raise EngageHTTPError(status, code, detail, server_date)

    @staticmethod
    def _json(response: httpx.Response) -> Any:
        if not response.content.strip():
            raise EngageBadResponse(f"empty body from {response.request.url.path}", response.status_code)
        if "json" not in response.headers.get("content-type", "").lower():
            raise EngageBadResponse(f"non-JSON answer from {response.request.url.path}", response.status_code)
        try:
            return json.loads(response.content)
        except ValueError:
            raise EngageBadResponse(f"non-JSON body from {response.request.url.path}", response.status_code) from None

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        for attempt in range(GET_429_RETRIES + 1):
            response = await self._send("GET", path, params=params)
            try:
                self._raise_for_status(response)
            except EngageRateLimited as exc:
                if attempt == GET_429_RETRIES:
                    raise
                await asyncio.sleep(min(exc.retry_after or 0.5, GET_429_MAX_WAIT))
                continue
            return self._json(response)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _post(
        self,
        path: str,
        expected: Answer,
        body: Any = None,
        *,
        long: bool = True,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> PostResult:
        response = await self._send("POST", path, params=params, body=body, long=long, extra_headers=headers)
        self._raise_for_status(response)
        status = response.status_code
        if status not in expected.statuses:
            raise EngageBadResponse(f"{path}: HTTP {status} is not Engage's documented answer", status)
        parsed: Any = self._json(response) if response.content.strip() else None
        if parsed is not None and expected.body == EMPTY_OR_OBJECT and not isinstance(parsed, dict):
            raise EngageBadResponse(f"{path}: expected a JSON object, got {type(parsed).__name__}", status)
        return PostResult(status, parsed, parse_http_date(response.headers.get("date")))

    # ---- contacts --------------------------------------------------------------------------------------

    async def find_contact_id(self, key: str, value: str) -> str:
        """``GET contacts/id?{key}={value}``; the 200 body is the contactId as a bare JSON string."""
        data = await self._get(f"{API}/contacts/id", {key: value})
        if isinstance(data, Mapping):  # tolerate {"id": "..."} should a tenant wrap it
            data = data.get("id") or data.get("contactId")
        if not isinstance(data, str) or not data:
            raise EngageBadResponse("contacts/id: expected the contactId as a JSON string")
        return data

    async def get_contact(self, contact_id: str) -> Contact:
        return Contact.from_json(await self._get(f"{API}/contacts/{_seg(contact_id)}"))

    async def create_contact(
        self,
        contact: Mapping[str, Any],
        *,
        store_external_id: str,
        source: str = CONTACT_SOURCE,
        create_as_unapproved: bool = False,
    ) -> PostResult:
        """``POST contacts``. ``source``, ``storeExternalId`` and ``createAsUnapproved`` go in the query string: as
        headers v3 silently ignores them [doc]. Engage gives up after about 5 s with a 504 and rolls back [doc],
        so the short timeouts are enough, and an answer that does not come is reconciled by a lookup."""
        if not store_external_id:
            raise ValueError("storeExternalId is required: it names the store that recruited the member")
        params = {
            "source": source,
            "storeExternalId": store_external_id,
            "createAsUnapproved": "true" if create_as_unapproved else None,
        }
        return await self._post(PATH_CONTACTS, CONTACT_CREATE_ANSWER, dict(contact), long=False, params=params)

    # ---- points ----------------------------------------------------------------------------------------

    async def get_point_accounts(self, contact_id: str) -> list[PointAccount]:
        data = await self._get(f"{API}/point-accounts", {"contactId": contact_id})
        return parse_page(data, PointAccount.from_json, "point-accounts").items

    async def get_point_account(self, account_id: str) -> PointAccount:
        return PointAccount.from_json(await self._get(f"{API}/point-accounts/{_seg(account_id)}"))

    async def get_point_transactions(
        self,
        account_id: str,
        *,
        filter: str = "All",
        offset: int = 0,
        count: int = 50,
        sort_by: str | None = None,
        sort_order: str | None = None,
    ) -> Page[PointTransaction]:
        params = {
            "id": account_id,
            "filter": filter,
            "offset": offset,
            "count": count,
            "sortBy": sort_by,
            "sortOrder": sort_order,
        }
        data = await self._get(f"{API}/point-transactions", params)
        return parse_page(data, PointTransaction.from_json, "point-transactions")

    async def get_point_transaction(self, transaction_id: str) -> PointTransaction:
        return PointTransaction.from_json(await self._get(f"{API}/point-transactions/{_seg(transaction_id)}"))

    async def add_point_transaction(self, transaction: Mapping[str, Any]) -> PostResult:
        """Single transaction; the caller supplies ``transactionId`` and keeps it for retries."""
        if not transaction.get("transactionId"):
            raise ValueError("transactionId is required so the transaction can be reconciled")
        return await self._post(f"{API}/point-transactions", POINT_TRANSACTION_ANSWER, dict(transaction))

    async def add_point_transactions_bulk(
        self, rows: Sequence[Mapping[str, Any]], *, idempotency_key: str | None = None
    ) -> list[BulkResult]:
        """Bulk add, split into chunks of at most 1000 rows (the vendor's limit)."""
        results = []
        for n, start in enumerate(range(0, len(rows), BULK_LIMIT)):
            chunk = [dict(r) for r in rows[start : start + BULK_LIMIT]]
            headers = {"Idempotency-Key": f"{idempotency_key}-{n}"} if idempotency_key else None
            result = await self._post(
                f"{API}/point-accounts/transactions", POINT_TRANSACTION_ANSWER, chunk, headers=headers
            )
            results.append(BulkResult.from_json(result.body, len(chunk)))
        return results

    async def get_point_definitions(self) -> list[PointDefinition]:
        return parse_page(await self._get(PATH_POINT_DEFINITIONS), PointDefinition.from_json, "definitions").items

    async def get_point_definition(self, definition_id: int) -> PointDefinition:
        return PointDefinition.from_json(await self._get(f"{PATH_POINT_DEFINITIONS}/{int(definition_id)}"))

    # ---- reward vouchers -------------------------------------------------------------------------------

    async def list_vouchers(
        self, contact_id: str, which: str = "available", *, offset: int = 0, count: int = 100
    ) -> Page[Voucher]:
        if which not in VOUCHER_LISTS:
            raise ValueError(f"which must be one of {VOUCHER_LISTS}")
        path = f"{API}/reward-vouchers" + ("" if which == "all" else f"/{which}")
        data = await self._get(path, {"contactId": contact_id, "offset": offset, "count": count})
        return parse_page(data, Voucher.from_json, f"reward-vouchers/{which}")

    async def list_all_vouchers(self, contact_id: str, which: str = "available", page_size: int = 100) -> list[Voucher]:
        """Every page of a voucher list (reconciliation must not miss a voucher on page two)."""
        items: list[Voucher] = []
        offset = 0
        while True:
            page = await self.list_vouchers(contact_id, which, offset=offset, count=page_size)
            items.extend(page.items)
            offset += len(page.items)
            if not page.items or offset >= page.total_count:
                return items

    async def redeem_voucher(self, voucher_id: str) -> PostResult:
        return await self._post(f"{API}/reward-vouchers/{_seg(voucher_id)}/redeem", VOUCHER_ANSWER)

    async def reactivate_voucher(self, voucher_id: str) -> PostResult:
        return await self._post(f"{API}/reward-vouchers/{_seg(voucher_id)}/reactivate", VOUCHER_ANSWER)

    # ---- point shop ------------------------------------------------------------------------------------

    async def list_point_shop_items(self, contact_id: str) -> list[PointShopItem]:
        data = await self._get(f"{API}/point-shop-items", {"contactId": contact_id})
        return parse_page(data, PointShopItem.from_json, "point-shop-items").items

    async def purchase_point_shop_item(self, contact_id: str, purchase_id: str, item_id: str) -> PostResult:
        body = {"contactId": contact_id, "pointShopItemPurchaseId": purchase_id, "pointShopItemId": item_id}
        return await self._post(PATH_POINT_SHOP_PURCHASE, POINT_SHOP_PURCHASE_ANSWER, body)

    async def list_point_shop_purchases(self, contact_id: str) -> list[PointShopPurchase]:
        data = await self._get(PATH_POINT_SHOP_PURCHASES, {"contactId": contact_id})
        return parse_page(data, PointShopPurchase.from_json, "point-shop-item-purchases").items

    # ---- receipts and promotions -----------------------------------------------------------------------

    async def create_receipt(self, receipt: Mapping[str, Any]) -> PostResult:
        if not receipt.get("uniqueReceiptId"):
            raise ValueError("uniqueReceiptId is required: it is what makes a resend safe")
        return await self._post(f"{API}/receipts", RECEIPT_ANSWER, dict(receipt))

    async def list_promotions(self, contact_id: str, channel: str | None = "POS") -> list[Promotion]:
        """The contact's assigned promotions for one redemption channel (``None``: every channel), redeemed and
        expired ones included when Engage lists them: the caller decides what is usable."""
        path = PATH_CONTACT_PROMOTIONS.format(contact_id=_seg(contact_id))
        data = await self._get(path, {"redemptionChannelType": channel})
        return parse_page(data, Promotion.from_json, "promotions").items

    async def redeem_promotion(self, assignment_id: str, channel: str = "POS") -> PostResult:
        """Redeem one assignment (its ``id`` from the list, not ``promotionId``). No idempotency key: the
        assignment's own state is the truth, so a lost answer is reconciled from the list, never re-sent blindly."""
        return await self._post(
            f"{API}/promotion-assignments/{_seg(assignment_id)}/redeem",
            PROMOTION_ANSWER,
            {"redemptionChannel": channel},
        )

    async def probe(self) -> float:
        """One cheap GET; returns the round trip in seconds. Only a real Engage answer counts: the definitions
        page as JSON. A JSON 4xx is Engage refusing (raised as such); a redirect or an HTML page is not Engage."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        response = await self._send("GET", PATH_PROBE)
        elapsed = loop.time() - started
        if 400 <= response.status_code < 500 and response.status_code not in (401, 403, 429):
            self._json(response)  # an error page from something else is not an answer from Engage
        self._raise_for_status(response)
        parse_page(self._json(response), PointDefinition.from_json, "definitions")
        return elapsed


def _seg(value: str) -> str:
    """A path segment, quoted so a scanned or posted id can never change the path."""
    return quote(str(value), safe="")


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        date = parse_http_date(value)
        server = parse_http_date(response.headers.get("date"))
        if date and server:
            return max(0.0, (date - server).total_seconds())
    return None
