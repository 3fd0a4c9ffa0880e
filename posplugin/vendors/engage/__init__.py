"""Engage v3 API: client, typed models and errors."""

from .client import PATH_PROBE, EngageClient, EngageTimeouts, user_agent
from .errors import (
    EngageAuthError,
    EngageBadResponse,
    EngageBusy,
    EngageError,
    EngageHTTPError,
    EngageNoAnswer,
    EngageRateLimited,
    EngageServerError,
    EngageUnreachable,
)
from .models import (
    BulkResult,
    Contact,
    Money,
    Page,
    PointAccount,
    PointDefinition,
    PointShopItem,
    PointShopPurchase,
    PointTransaction,
    PostResult,
    Voucher,
)

__all__ = [
    "PATH_PROBE",
    "BulkResult",
    "Contact",
    "EngageAuthError",
    "EngageBadResponse",
    "EngageBusy",
    "EngageClient",
    "EngageError",
    "EngageHTTPError",
    "EngageNoAnswer",
    "EngageRateLimited",
    "EngageServerError",
    "EngageTimeouts",
    "EngageUnreachable",
    "Money",
    "Page",
    "PointAccount",
    "PointDefinition",
    "PointShopItem",
    "PointShopPurchase",
    "PointTransaction",
    "PostResult",
    "Voucher",
    "user_agent",
]
