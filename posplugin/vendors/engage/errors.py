"""Typed Engage errors, each one of the core's neutral errors (``posplugin.loyalty.errors``) as well: the client
maps every transport and HTTP failure here, once, and the outbox and breaker decide on the neutral type.

The split that matters for money is *was the request sent?*: ``EngageUnreachable`` means nothing reached Engage
(safe to send again); ``EngageNoAnswer`` and ``EngageServerError`` mean it may have been processed (reconcile
with a GET before any re-send).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ...loyalty.errors import (
    LoyaltyAuthError,
    LoyaltyBadAnswer,
    LoyaltyCongested,
    LoyaltyError,
    LoyaltyHTTPError,
    LoyaltyNoAnswer,
    LoyaltyRateLimited,
    LoyaltyServerError,
    LoyaltyUnreachable,
)

# Code names the vendor documents (seeds and engage-api.md), plus the few whose exact spelling is assumed.
KNOWN_CODES = frozenset(
    {
        "ContactNotFound",
        "MultipleMatches",
        "InvalidEmailAddress",
        "InvalidPhoneNumber",
        "InvalidSocialSecurityNumber",
        "InvalidContactType",
        "InvalidSearchQuery",
        "InvalidSystemConfiguration",
        "InvalidContact",
        "InvalidRewardVoucherId",
        "RewardVoucherNotFound",
        "RewardVoucherAlreadyRedeemed",
        "RewardVoucherExpired",
        "RewardVoucherAlreadyActivated",
        "ReactivationLimitExceeded",
        "GatewayTimeout",
        "PromotionAssignmentContactNotFound",
        "PromotionAssignmentPromotionNotFound",
        "PromotionAssignmentPromotionExpired",
        "PromotionAssignmentError",
        "PointShopItemNotFound",
        "PointShopItemPurchaseProcessingTimedOut",
        "PointShopItemPurchaseFailed",
        "PointShopItemPurchaseIdConflict",
        "InsufficientPoints",
        "PointShopItemPurchasesNotFound",
        "NotAValidRedemptionChannel",
        "InvalidPromotionIdNoData",
        "PromotionNotFound",
        "PromotionNotAssociatedWithContact",
        "PromotionNotValidForRedemptionChannel",
        "PromotionAlreadyRedeemed",
        "TooManyItems",
        "NewPointSystemNotActive",
        "PointAccountNotFound",
        "PointTransactionNotFound",
        "PointDefinitionNotFound",
        "InvalidReceipt",
        "Unauthorized",
        "TooManyRequests",
        "ContactAlreadyExists",  # a new contact's identifier is taken: spelling [assumed]
        "InvalidSource",  # contact creation without a valid source / storeExternalId: spelling [assumed]
        "InvalidStoreExternalId",
    }
)
_CODE_FIELDS = ("errorCode", "code", "error", "errorType", "title", "message", "detail")


class EngageError(LoyaltyError):
    """Base for every failure talking to Engage."""


class EngageUnreachable(EngageError, LoyaltyUnreachable):
    """Nothing reached Engage (connect refused, DNS, connect timeout): safe to try again."""


class EngageBusy(EngageError, LoyaltyCongested):
    """The agent's own connection pool had no free connection in time: nothing was sent, and it says nothing
    about Engage (a burst of lookups at this till, not an outage)."""


class EngageNoAnswer(EngageError, LoyaltyNoAnswer):
    """The request went out but no answer came back (read timeout, reset): the outcome is unknown."""


class EngageBadResponse(EngageError, LoyaltyBadAnswer):
    """An answer that is not Engage's documented one: a redirect (captive portal, proxy block page, mistyped
    address), an HTML page, or a body of the wrong shape. After a POST was sent its outcome is unknown."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class EngageHTTPError(EngageError, LoyaltyHTTPError):
    def __init__(self, status: int, code: str | None, detail: str, server_date: datetime | None = None) -> None:
        LoyaltyHTTPError.__init__(self, status, code, detail, server_date)
        self.args = (f"Engage answered {status} {code or ''}".rstrip() + (f": {detail}" if detail else ""),)


class EngageServerError(EngageHTTPError, LoyaltyServerError):
    """5xx, including 504 GatewayTimeout: for a POST the outcome is unknown."""


class EngageAuthError(EngageHTTPError, LoyaltyAuthError):
    """401/403: the API key is missing, wrong or lacks rights."""


class EngageRateLimited(EngageHTTPError, LoyaltyRateLimited):
    def __init__(self, status: int, code: str | None, detail: str, retry_after: float | None) -> None:
        super().__init__(status, code, detail)
        self.retry_after = retry_after


def parse_error_code(body: bytes, content_type: str) -> tuple[str | None, str]:
    """Find the vendor's code name in an error body of unknown shape; returns (code, short detail)."""
    text = body[:2000].decode("utf-8", errors="replace").strip()
    data: Any = None
    if text[:1] in ("{", "[", '"'):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    if isinstance(data, str):
        return (data if data in KNOWN_CODES else None), data[:200]
    if isinstance(data, dict):
        strings = [data[f] for f in _CODE_FIELDS if isinstance(data.get(f), str)]
        strings += [v for v in data.values() if isinstance(v, str) and v not in strings]
        for value in strings:
            code = _known_code_in(value)
            if code is not None:
                return code, value[:200]
        for name in ("errorCode", "code"):
            value = data.get(name)
            if isinstance(value, str) and value.isidentifier():
                return value, (strings[0] if strings else value)[:200]
        return None, (strings[0] if strings else "")[:200]
    if "html" in content_type.lower() or text.lower().startswith("<"):
        return None, "non-JSON error page"
    return _known_code_in(text), text[:200]


def _known_code_in(text: str) -> str | None:
    """The known code a text names: an exact match first, else the longest one it contains
    (so ``InvalidContactType`` is not read as ``InvalidContact``)."""
    stripped = text.strip()
    if stripped in KNOWN_CODES:
        return stripped
    found = [code for code in KNOWN_CODES if code in text]
    return max(found, key=len) if found else None
