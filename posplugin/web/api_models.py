"""What the local API v1 answers, as pydantic models: the contract published in ``/openapi.json``.

One model per concept; the HTTP answers and the Server-Sent Events both go through them. The services build
plain data; the web layer validates it into these models at the boundary, so a drift between a service and the
contract fails there (and in the tests) instead of reaching a POS. Answer models do not forbid extra fields in
the schema: within v1 the contract only grows (README, "Versioning").
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field

from ..loyalty.kinds import KINDS

# Dates are sent as ISO 8601 text in UTC ("…Z"), exactly as built by the services; kept as text so the wire stays
# byte for byte what a POS saw before.
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
# Points and money amounts in answers: JSON numbers, whole where they are whole.
Number = int | float

OpKind = Literal[
    "voucher_redeem",
    "voucher_reactivate",
    "point_shop_purchase",
    "sale_receipt",
    "point_adjustment",
    "sale_earn",
    "reward_redeem",
    "reward_reverse",
    "promotion_redeem",
]
assert set(get_args(OpKind)) == set(KINDS)  # the contract names every kind the outbox knows
OpState = Literal["redeemed", "completed", "delivered", "queued", "rejected", "conflict", "parked", "resolved"]


class Answer(BaseModel):
    """Base of every answer: validates what the service built; unknown keys are a bug caught in the tests."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=lambda schema: schema.pop("additionalProperties"))


# ---- errors --------------------------------------------------------------------------------------------------


class ErrorDetail(Answer):
    code: str = Field(description="snake_case error code; the codes each operation returns are in its responses")
    message: str = Field(description="text for the cashier, in the agent's language")
    details: dict[str, Any] | None = Field(default=None, description="machine-readable extras, e.g. a sale rule")


class ErrorBody(Answer):
    error: ErrorDetail


# ---- member view ---------------------------------------------------------------------------------------------


class ContactView(Answer):
    id: str = Field(description="the member's id in the loyalty system (opaque)")
    firstName: str | None
    lastName: str | None
    memberNumber: str | None


class PointAccountView(Answer):
    id: str
    definitionId: int | None = Field(default=None, description="Engage: the point definition")
    pointType: str | None = Field(default=None, description="fabric: Base, Bonus or Promotional")
    balance: Number
    pendingPoints: Number = 0
    balanceExpires: DateTime | None = None


class RestrictedPointsView(Answer):
    points: Number
    pointType: str
    location: str = Field(description="the only store where these points count")
    usableHere: bool


class PointsView(Answer):
    balance: Number = Field(description="the points usable at this store")
    pending: Number
    accounts: list[PointAccountView]
    restricted: list[RestrictedPointsView] | None = Field(
        default=None, description="fabric: points that count only at another store, shown apart"
    )
    restrictedHere: Number | None = Field(default=None, description="fabric: restricted points usable here")


class MoneyView(Answer):
    amount: Number
    currency: str


class VoucherView(Answer):
    id: str = Field(description="the voucher's id (opaque)")
    voucherNumber: str | None
    name: str | None
    value: MoneyView | None
    localValues: list[MoneyView | None]
    expiresOn: DateTime | None
    points: Number | None = None


class PromotionView(Answer):
    """A multichannel promotion the member can use at this till (POS channel, not redeemed, not expired)."""

    id: str = Field(description="the assignment's id (opaque): what redeem and print take — not promotionId")
    promotionId: str | None = Field(description="the promotion this is an assignment of")
    externalId: str | None = Field(default=None, description="the promotion's id in another system, if set")
    name: str | None
    heading: str | None
    description: str | None
    expiresOn: DateTime | None
    valueType: str | None = Field(description="MONEY, PERCENT, EXTERNALOFFER, MANUAL or SWIPE, as the vendor says")
    value: MoneyView | None = Field(description="MONEY: the amount off")
    percent: Number | None = Field(description="PERCENT: the percentage off")
    valueText: str | None = Field(description="EXTERNALOFFER, MANUAL, SWIPE: the offer in words")
    localValues: list[MoneyView | None]
    instruction: str = Field(description="the cash-register instruction, for the cashier")


class MemberView(Answer):
    contact: ContactView
    points: PointsView
    vouchers: list[VoucherView]
    promotions: list[PromotionView] = Field(
        default_factory=list,
        description="offers usable at this till; absent only in a cached view saved before the agent listed them",
    )
    promotionsUnavailable: bool | None = Field(
        default=None, description="true when the offers could not be read: unknown, not none"
    )
    source: Literal["live", "cache"]
    fetchedAt: DateTime
    cacheReason: Literal["offline", "slow", "error"] | None = Field(
        default=None, description="only on a view from the cache: why Engage was not asked"
    )
    ageSeconds: int | None = Field(default=None, description="only on a view from the cache: its age")


class EnrolmentOutcome(Answer):
    result: Literal["created", "existing"] = Field(
        description="created: a new member; existing: the identifier belongs to a member already, who is identified "
        "instead (their consents are left as they were)"
    )
    identifier: Literal["email", "mobilePhone"] = Field(description="the identifier the member was enrolled with")
    consentsSaved: bool = Field(description="the answers given were saved with the new member")
    viewComplete: bool = Field(
        description="false: points and vouchers could not be fetched in time and are placeholders; fetch "
        "GET /api/v1/members/{contactId}"
    )


class EnrolledMemberView(MemberView):
    """The member view of the member enrolled (or found), and what happened."""

    enrolment: EnrolmentOutcome


class EnrolmentQuestion(Answer):
    id: str = Field(description="the key of the answer in the request's consents")
    text: str = Field(description="the question, in the agent's language")
    requires: Literal["email", "mobilePhone"] | None = Field(
        description="asked only for an enrolment with this identifier; null: always asked"
    )


class EnrolmentForm(Answer):
    enabled: bool = Field(description="false: switched off, or no store id is set (POST /members answers 409)")
    identifiers: list[Literal["email", "mobilePhone"]]
    questions: list[EnrolmentQuestion] = Field(description="each must be answered yes or no; none is pre-selected")


class PointTransactionView(Answer):
    id: str
    amount: Number
    type: str | None
    description: str = Field(description="readable text in the agent's language (Engage's @@(…) codes replaced)")
    source: str | None
    transactionDate: DateTime | None
    validFrom: DateTime | None
    validTo: DateTime | None
    pending: bool


class PointTransactionPage(Answer):
    items: list[PointTransactionView]
    totalCount: int


# ---- operations (the outbox) ---------------------------------------------------------------------------------


class OpView(Answer):
    """One operation of any kind; the fields after ``attempts`` appear for the kinds and states they name."""

    opId: str
    kind: OpKind
    state: OpState = Field(
        description="redeemed/completed/delivered: done; queued: accepted, sent or confirmed later; rejected: "
        "refused before the POS heard queued; conflict, parked: a person must look; resolved: a person settled it"
    )
    contactId: str = Field(description="empty for an anonymous sale")
    createdAt: DateTime
    updatedAt: DateTime
    attempts: int
    voucherId: str | None = Field(default=None, description="voucher_redeem, voucher_reactivate")
    assignmentId: str | None = Field(default=None, description="promotion_redeem: the promotion assignment")
    promotionId: str | None = Field(default=None, description="promotion_redeem")
    itemId: str | None = Field(default=None, description="point_shop_purchase")
    purchaseId: str | None = Field(default=None, description="point_shop_purchase")
    receiptId: str | None = Field(default=None, description="sale_receipt, sale_earn")
    transactionId: str | None = Field(default=None, description="point_adjustment")
    amount: int | str | None = Field(
        default=None, description='point_adjustment: the points; reward_redeem: the reward\'s value, e.g. "50.00"'
    )
    rewardId: str | None = Field(
        default=None, description="reward_redeem: its own opId; reward_reverse: the opId of the reward it undoes"
    )
    redemptionCode: str | None = Field(
        default=None, description="reward_redeem, reward_reverse: the vendor's code once the reward is issued"
    )
    reason: str | None = Field(default=None, description="why it was rejected, is in conflict or parked")
    reasonText: str | None = Field(default=None, description="the reason as text for a person (final states)")
    nextAttemptAt: DateTime | None = Field(default=None, description="while queued")
    pointsNote: str | None = Field(default=None, description="sale_receipt, in the answer to the sale")
    note: str | None = Field(default=None, description="resolved: what the person wrote")
    resolvedAt: DateTime | None = Field(default=None, description="resolved: when")
    memberName: str | None = Field(default=None, description="settings page only")


class QueueCounts(Answer):
    pending: int
    parked: int
    conflict: int
    sending: int
    oldestPendingAt: int = Field(description="Unix time of the oldest waiting op, 0 when none")
    oldestPendingAgeSeconds: int


class QueueView(QueueCounts):
    ops: list[OpView] = Field(description="live, parked and conflict ops, oldest first")


# ---- health --------------------------------------------------------------------------------------------------


class PrinterHealth(Answer):
    status: str = Field(description="ready, offline, paper_out, cover_open, unknown or not_configured")
    backend: str


class ScannerHealth(Answer):
    backend: str
    running: bool


class Health(Answer):
    status: Literal["ok", "warning", "critical"]
    reasons: list[str] | None = Field(default=None, description="why the status is not ok")
    version: str
    uptimeSeconds: float
    backend: Literal["engage", "fabric"] = Field(description="the loyalty system this agent talks to")
    loyalty: Literal["online", "offline", "unknown"] = Field(description="the loyalty system's state")
    loyaltyLatencyMs: float | None
    engage: Literal["online", "offline", "unknown"] = Field(
        description="the same as `loyalty`, whatever the backend (kept for monitors written before fabric)"
    )
    engageLatencyMs: float | None = Field(description="the same as `loyaltyLatencyMs`")
    features: list[str]
    queue: QueueCounts
    printer: PrinterHealth
    scanner: ScannerHealth


# ---- point shop ----------------------------------------------------------------------------------------------


class PointShopItemView(Answer):
    id: str
    name: str
    title: str
    description: str
    imageUrl: str
    cost: int
    pointDefinitionId: int
    balance: Number
    affordable: bool
    missingPoints: Number
    validFrom: DateTime | None
    validTo: DateTime | None


class PointShopItems(Answer):
    items: list[PointShopItemView]


class PointShopPurchaseView(Answer):
    purchaseId: str
    itemId: str
    name: str
    cost: int
    status: str = Field(description="as Engage says, e.g. Processing, Completed")
    createdOn: DateTime | None


class PointShopPurchases(Answer):
    items: list[PointShopPurchaseView]


# ---- printing ------------------------------------------------------------------------------------------------


class PrintAnswer(Answer):
    printed: bool
    bytes: int
    jobId: int


# ---- events (GET /api/v1/events) -----------------------------------------------------------------------------


class EngageStateEvent(Answer):
    """``hello`` (first event of a stream) and ``status`` (Engage went online/offline)."""

    engage: Literal["online", "offline", "unknown"]


class ScanEvent(Answer):
    source: str
    status: Literal["ok", "error"]
    member: MemberView | None = None
    error: ErrorDetail | None = None


class MemberEvent(Answer):
    """A member view fetched in the background (a slow Engage answered late, or vouchers changed)."""

    contactId: str
    source: Literal["live", "cache"]
    view: MemberView


class SaleEvent(Answer):
    contactId: str | None
    opId: str
    state: OpState


class PrintEvent(Answer):
    """A print job that waited for the printer ended: printed late, or given up (the cashier is told)."""

    jobId: int
    kind: str
    state: Literal["printed", "expired"]
    contactId: str | None = None


EVENT_MODELS: dict[str, type[Answer]] = {
    "hello": EngageStateEvent,
    "status": EngageStateEvent,
    "scan": ScanEvent,
    "member": MemberEvent,
    "op": OpView,
    "sale": SaleEvent,
    "queue": QueueCounts,
    "print": PrintEvent,
}
