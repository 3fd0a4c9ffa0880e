"""Multichannel promotions in the simulator: promotions, their assignments to contacts, the POS list, redemption
with the vendor's error codes, assignment by a point-shop purchase, and ``usedPromotions`` on a receipt.

Facts from engage-api.md ("Multichannel promotions"): the list is ``GET /api/v2/contacts/{id}/promotions`` with
``redemptionChannelType``; redeem takes the assignment's id and ``{"redemptionChannel": …}``; 400
``NotAValidRedemptionChannel`` / ``InvalidPromotionIdNoData``, 404 ``PromotionNotFound`` /
``PromotionNotAssociatedWithContact``, 409 ``PromotionNotValidForRedemptionChannel`` /
``PromotionAlreadyRedeemed``. The 4.5 s point of no return is the HTTP layer's, as for vouchers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from .state import SimError, engage_time, require_guid

if TYPE_CHECKING:
    from .state import Purchase, SimState

CHANNELS = ("POS", "ECOM", "OTHER")
VALUE_TYPES = ("MONEY", "PERCENT", "EXTERNALOFFER", "MANUAL", "SWIPE")
ASSIGNMENT_NAMESPACE = uuid.UUID("0f3a4b6c-7d8e-4f90-a1b2-c3d4e5f6a7b8")
# The receipt's usedPromotions entries [v2 model: ReceiptUsedPromotion]; a field beyond these is refused.
USED_PROMOTION_FIELDS = frozenset({"promotionId", "couponId"})


@dataclass
class SimChannel:
    type: str  # POS, ECOM, OTHER
    value_type: str  # MONEY, PERCENT, EXTERNALOFFER, MANUAL, SWIPE
    value: Any  # MONEY: (amount, currency); PERCENT: an int; others: the offer in words
    instruction: str = ""
    local_values: list[tuple[str, float]] = field(default_factory=list)

    def json(self) -> dict[str, Any]:
        value: Any = self.value
        if self.value_type == "MONEY":
            amount, currency = self.value
            value = {"currency": currency, "amount": amount}
        return {
            "type": self.type,
            "valueType": self.value_type,
            "value": value,
            "localValues": [{"currency": c, "amount": a} for c, a in self.local_values],
            "instruction": self.instruction,
        }


@dataclass
class PromotionTemplate:
    id: str
    name: str
    heading: str
    description: str
    channels: list[SimChannel]
    valid_days: int = 30  # how long an assignment is valid
    valid_from: datetime | None = None  # before it the promotion is not sent to the POS [doc]
    external_id: str = ""


@dataclass
class Assignment:
    id: str
    contact_id: str
    promotion_id: str
    expires_on: datetime
    redeemed_on: datetime | None = None
    redeemed_channel: str = ""


class PromotionBook:
    """The simulator's promotions; every method runs under the state's lock."""

    def __init__(self, state: SimState) -> None:
        self._state = state
        self.templates: dict[str, PromotionTemplate] = {}
        self.assignments: dict[str, Assignment] = {}
        self.redeem_commits: dict[str, int] = {}  # assignment id → times committed (tests assert ≤ 1)
        self.redeemed_elsewhere: set[str] = set()

    # ---- set-up ----------------------------------------------------------------------------------------

    def add_template(self, template: PromotionTemplate) -> PromotionTemplate:
        with self._state.lock:
            self.templates[template.id] = template
            return template

    def assign(
        self, contact_id: str, promotion_id: str, assignment_id: str | None = None, expires_on: datetime | None = None
    ) -> Assignment:
        with self._state.lock:
            template = self.templates.get(promotion_id)
            if template is None:
                raise SimError(404, "PromotionNotFound")
            existing = self.assignments.get(assignment_id or "")
            if existing is not None:
                return existing
            assignment = Assignment(
                assignment_id or str(uuid.uuid4()),
                contact_id,
                promotion_id,
                expires_on or self._state.now() + timedelta(days=template.valid_days),
            )
            self.assignments[assignment.id] = assignment
            return assignment

    def assign_for_purchase(self, purchase: Purchase) -> None:
        """Seed 002: a completed purchase assigns the item's promotion. One assignment per purchase, so the
        idempotent repeat of a purchase assigns nothing more."""
        if purchase.promotion_id in self.templates:
            self.assign(purchase.contact_id, purchase.promotion_id, str(uuid.uuid5(ASSIGNMENT_NAMESPACE, purchase.id)))

    def assign_from_request(self, body: Any) -> dict[str, Any]:
        """``POST /api/v3/promotion-assignments {contactId, promotionId}`` [doc]; the answer's shape is [assumed]."""
        if not isinstance(body, dict):
            raise SimError(400, "InvalidRequest", "expected a JSON object")
        contact_id = require_guid(_str(body.get("contactId")), "InvalidContactId")
        promotion_id = require_guid(_str(body.get("promotionId")), "InvalidPromotionIdNoData")
        with self._state.lock:
            if contact_id not in self._state.contacts:
                raise SimError(404, "ContactNotFound")
            return self._json(self.assign(contact_id, promotion_id))

    # ---- list ------------------------------------------------------------------------------------------

    def _json(self, a: Assignment) -> dict[str, Any]:
        t = self.templates[a.promotion_id]
        return {
            "id": a.id,
            "promotionId": t.id,
            "externalId": t.external_id or None,
            "type": "Multichannel",
            "name": t.name,
            "heading": t.heading,
            "description": t.description,
            "expiresOn": engage_time(a.expires_on),
            "redeemed": a.redeemed_on is not None,
            "redeemedOn": engage_time(a.redeemed_on),
            "imageUrl": "",
            "link": "",
            "redemptionChannels": [c.json() for c in t.channels],
        }

    def list_for(self, contact_id: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """The contact's assignments for a channel (redeemed and expired ones too: the client decides)."""
        cid = require_guid(contact_id, "InvalidContactId")
        channel = params.get("redemptionChannelType")
        if channel is not None and channel not in CHANNELS:
            raise SimError(400, "NotAValidRedemptionChannel")
        now = self._state.now()
        with self._state.lock:
            if cid not in self._state.contacts:
                raise SimError(404, "ContactNotFound")
            mine = []
            for a in self.assignments.values():
                t = self.templates[a.promotion_id]
                if a.contact_id != cid:
                    continue
                if channel is not None and not any(c.type == channel for c in t.channels):
                    continue
                if channel == "POS" and t.valid_from is not None and t.valid_from > now:
                    continue  # not sent to the POS before its start date
                mine.append(self._json(a))
        return mine

    # ---- redeem ----------------------------------------------------------------------------------------

    def check_redeemable(self, assignment_id: str, body: Any) -> str:
        """The checks Engage makes before it starts a redemption; returns the channel redeemed in."""
        aid = require_guid(assignment_id, "InvalidPromotionIdNoData")
        channel = body.get("redemptionChannel") if isinstance(body, dict) else None
        if channel not in CHANNELS:
            raise SimError(400, "NotAValidRedemptionChannel", "redemptionChannel must be POS, ECOM or OTHER")
        with self._state.lock:
            assignment = self.assignments.get(aid)
            if assignment is None:
                raise SimError(404, "PromotionNotFound")
            if assignment.contact_id not in self._state.contacts:
                raise SimError(404, "PromotionNotAssociatedWithContact")
            if not any(c.type == channel for c in self.templates[assignment.promotion_id].channels):
                raise SimError(409, "PromotionNotValidForRedemptionChannel")
            if assignment.redeemed_on is not None:
                raise SimError(409, "PromotionAlreadyRedeemed")
            if assignment.expires_on <= self._state.now():
                raise SimError(404, "PromotionNotFound", "the promotion has ended")  # code [assumed]
            return str(channel)

    def commit_redeem(self, assignment_id: str, channel: str, at: datetime | None = None) -> None:
        """The point of no return: re-checks under the lock (concurrent redeems)."""
        with self._state.lock:
            self.check_redeemable(assignment_id, {"redemptionChannel": channel})
            assignment = self.assignments[assignment_id.lower()]
            assignment.redeemed_on = at or self._state.now()
            assignment.redeemed_channel = channel
            self.redeem_commits[assignment.id] = self.redeem_commits.get(assignment.id, 0) + 1

    def redeem_elsewhere(self, assignment_id: str, at: datetime | None = None, channel: str = "ECOM") -> None:
        """Another channel (the web shop, another till) redeems it: for tests and demos. ``at`` stamps it as
        Engage would have, so a test can place it outside the agent's own attempt."""
        with self._state.lock:
            assignment = self.assignments.get(assignment_id.lower())
            channels = self.templates[assignment.promotion_id].channels if assignment else []
            usable = channel if any(c.type == channel for c in channels) else (channels[0].type if channels else "POS")
            self.commit_redeem(assignment_id, usable, at)
            self.redeemed_elsewhere.add(assignment_id.lower())

    # ---- receipts --------------------------------------------------------------------------------------

    def check_used(self, used: Any) -> None:
        """A receipt's ``usedPromotions``: a list of ``{promotionId, couponId?}`` with GUIDs; a couponId (the
        assignment) that Engage knows must be an assignment of that promotion. Anything else is refused."""
        if used is None:
            return
        if not isinstance(used, list):
            raise SimError(400, "InvalidReceipt", "usedPromotions must be an array")
        for n, entry in enumerate(used, start=1):
            if not isinstance(entry, dict):
                raise SimError(400, "InvalidReceipt", f"usedPromotions[{n}] is not an object")
            unknown = set(entry) - USED_PROMOTION_FIELDS
            if unknown:
                raise SimError(
                    400, "InvalidReceipt", f"usedPromotions[{n}]: unknown field(s) {', '.join(sorted(unknown))}"
                )
            promotion_id = require_guid(_str(entry.get("promotionId")), "InvalidReceipt")
            coupon = entry.get("couponId")
            if coupon is None:
                continue
            assignment = self.assignments.get(require_guid(_str(coupon), "InvalidReceipt"))
            if assignment is not None and assignment.promotion_id != promotion_id:
                raise SimError(400, "InvalidReceipt", f"usedPromotions[{n}]: couponId is not of that promotion")


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None
