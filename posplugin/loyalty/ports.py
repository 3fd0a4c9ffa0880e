"""What the core asks of a loyalty backend: one small port per capability, and the backend that bundles them.

A vendor package implements these (``posplugin/vendors/<name>/backend.py``) and the composition root picks one
by ``[loyalty] backend``, the way pyserial picks a URL handler by its scheme. The core never names a vendor: it
sees opaque member and voucher ids, view dicts in the local API's shapes, and the neutral errors of ``errors.py``.
A capability a vendor lacks is ``None`` on its backend, and its feature name is absent from ``features``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .enrolment import EnrolmentPort

if TYPE_CHECKING:
    from datetime import datetime

    from ..config import Config
    from ..member_cache import MemberCache
    from ..ops import OpService
    from ..outbox.model import Op
    from ..outbox.store import OutboxStore
    from ..outbox.worker import Executor, OutboxWorker
    from ..receipts.service import ReceiptService
    from ..redemptions import OfflineLimits
    from ..sale_rules import RuleViolation, Sale
    from ..sales import SaleRequest
    from .status import LoyaltyStatus

# Feature names as the POS sees them in /api/v1/health `features` (the panel shows what is listed).
IDENTIFY, REDEEM, REACTIVATE, POINT_SHOP, SALES, POINT_ADJUSTMENTS, REWARDS, PRINT, PROMOTIONS, ENROL = (
    "identify",
    "redeem",
    "reactivate",
    "point_shop",
    "sales",
    "point_adjustments",
    "rewards",
    "print",
    "promotions",
    "enrol",
)


class MemberIds(Protocol):
    """The vendor's id formats: a malformed id is refused with a 422 naming the field, before any call."""

    def member(self, value: str, language: str) -> str: ...
    def voucher(self, value: str, language: str) -> str: ...
    def is_member_id(self, text: str) -> bool:
        """Is this text a member id (so a scan of it, or of an app QR URL carrying it, names the member)?"""
        ...


class MemberDirectory(Protocol):
    """Finding a member and reading their view (``MemberView`` of the API: contact, points, vouchers)."""

    lookup_keys: tuple[str, ...]  # the keys a scanned card is tried under, in order

    async def find(self, value: str, key: str) -> str | None:
        """The member id for ``value`` under ``key``; None when no member has it there.
        Raises ``MultipleMembers`` when it is ambiguous, a ``LoyaltyError`` when the vendor fails."""
        ...

    async def view(self, member_id: str, now: float) -> dict[str, Any]:
        """The live view; raises ``MemberNotFound`` or a ``LoyaltyError``."""
        ...

    async def point_transactions(
        self, member_id: str, filter_: str, offset: int, count: int, account_id: str | None, language: str
    ) -> dict[str, Any]:
        """A page ``{items, totalCount}``; ``filter_`` is all / active / pending."""
        ...


class VoucherLists(Protocol):
    """A member's reward vouchers as the member view shows them (``id``, ``voucherNumber``, …, ``redeemed``)."""

    async def vouchers(self, member_id: str, which: str) -> Sequence[Mapping[str, Any]]:
        """``which``: available / redeemed / all. Raises ``MemberNotFound`` or a ``LoyaltyError``."""
        ...


class SaleChannel(Protocol):
    """How a sale reaches the vendor: which op kind carries it, the rules it must meet, the body it goes as."""

    kind: str
    points_note: str  # what the POS is told about when the points show

    def violations(self, sale: Sale) -> list[RuleViolation]: ...

    async def payload(
        self, request: SaleRequest, store: str, member_id: str | None, member_code: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what the sale's opId stands for — the sale as posted —, the op's payload for the executor).
        Raises ``AgentError`` (422) for a sale this vendor has no form for."""
        ...


class PointShop(Protocol):
    """Buying reward items with points (Engage)."""

    async def items(self, contact_id: str) -> dict[str, Any]: ...
    async def purchase(self, contact_id: str, item_id: str, op_id: str | None) -> dict[str, Any]: ...
    async def purchases(self, contact_id: str) -> dict[str, Any]: ...
    async def print_receipt(self, contact_id: str, op_id: str) -> dict[str, Any]: ...


class PointAdjustments(Protocol):
    """Adding or taking points by hand (Engage)."""

    async def adjust(
        self,
        contact_id: str,
        amount: int,
        description: str,
        definition_id: int = 1,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        op_id: str | None = None,
    ) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CoreParts:
    """The core services a vendor's capability services are built on (the op path, receipts, the breaker)."""

    store: OutboxStore
    worker: OutboxWorker
    ops: OpService
    receipts: ReceiptService
    status: LoyaltyStatus
    language: str
    clock: Callable[[], float]
    point_shop_qr: bool
    cache: MemberCache
    offline_limits: Callable[[], OfflineLimits]


class Promotions(Protocol):
    """A member's offers redeemed at the till, and their slip (Engage's multichannel promotions)."""

    async def redeem(self, assignment_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]: ...
    async def print_receipt(self, contact_id: str, assignment_id: str) -> dict[str, Any]: ...


class Rewards(Protocol):
    """Rewards issued from points on demand at the till, and their undo (fabric)."""

    async def redeem(self, member_id: str, amount: str | int | float, op_id: str | None) -> dict[str, Any]: ...
    async def undo(self, op_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Capabilities:
    point_shop: PointShop | None = None
    point_adjustments: PointAdjustments | None = None
    promotions: Promotions | None = None
    rewards: Rewards | None = None
    enrolment: EnrolmentPort | None = None  # enrolling new members at the till (Engage)


@dataclass(frozen=True)
class ExecutorContext:
    """What executors get from the core: the breaker, the clock, and the few core lookups some kinds need."""

    status: LoyaltyStatus
    clock: Callable[[], float]
    store: OutboxStore
    # A scanned card to a member id (raises ``AgentError`` 404 when nobody has it), for sales captured with a code.
    resolve_code: Callable[[str], Awaitable[str]]
    redeemed_by_another_op: Callable[[Op], Awaitable[bool]]
    settle_seconds: float


class LoyaltyBackend(Protocol):
    """One vendor, as the composition root wires it."""

    name: str  # as in config: engage, fabric
    title: str  # as a person reads it: Engage, fabric
    credential: str  # what its secret is called on the settings page: "API key", "client secret"
    features: frozenset[str]
    ids: MemberIds
    directory: MemberDirectory
    vouchers: VoucherLists | None
    sales: SaleChannel

    @property
    def address(self) -> str: ...
    @property
    def has_credentials(self) -> bool: ...
    @property
    def server_offset(self) -> float | None:
        """Vendor clock minus ours, from its Date headers (None until known)."""
        ...

    def executors(self, context: ExecutorContext) -> Mapping[str, Executor]: ...
    def capabilities(self, core: CoreParts) -> Capabilities: ...
    async def probe(self) -> float:
        """One cheap authenticated read; its latency. Raises the neutral errors."""
        ...

    def set_secret(self, secret: str) -> None: ...
    def reconfigure(self, config: Config, secret: str | None) -> bool:
        """Apply a changed config; True when the address or credentials changed (the breaker starts over)."""
        ...

    async def aclose(self) -> None: ...
