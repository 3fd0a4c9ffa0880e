"""What sending and reconciling a promotion redemption means against Engage.

``POST promotion-assignments/{id}/redeem`` has the voucher redeem's shape (engage-api.md): no idempotency key, a
4.5 s point of no return, a client timeout of at least 60 s. So the same rules hold: an answer we did not get is
settled by reading the contact's promotions (``redeemed``, ``redeemedOn``), and Engage's "already redeemed" is
ours only when ``redeemedOn`` falls inside one of our own unanswered attempts.

Only the owner's lists are read (the op's contact, checked before capture): the POS list, then every channel.
An assignment missing from both is never taken as "not found"; the op stays unknown until the outbox's limits
park it for a person.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ....loyalty.status import LoyaltyStatus
from ....outbox.model import Attempt, Confirmed, Conflict, Op, Outcome, Refused, Resend, Unknown
from .. import EngageClient, EngageError, EngageHTTPError, Promotion
from .call import EngageCall
from .vouchers import ClaimedElsewhere, in_our_window

CHANNEL = "POS"
OWNER_LISTS: tuple[str | None, ...] = (CHANNEL, None)  # the POS list, then every channel
REFUSAL_REASONS = {
    "PromotionAlreadyRedeemed": "already_redeemed",
    "PromotionNotValidForRedemptionChannel": "not_valid_for_channel",
    "NotAValidRedemptionChannel": "not_valid_for_channel",
    "PromotionNotFound": "not_found",
    "PromotionNotAssociatedWithContact": "not_found",
    "InvalidPromotionIdNoData": "invalid_promotion",
}
BY_STATUS = {400: "invalid_promotion", 404: "not_found", 409: "engage_conflict", 422: "invalid_promotion"}


async def _never(op: Op) -> bool:
    return False


def _find(promotions: Sequence[Promotion], assignment_id: str) -> Promotion | None:
    wanted = assignment_id.lower()
    return next((p for p in promotions if p.id.lower() == wanted), None)


def _expired(op: Op, now: float) -> bool:
    """Whether the assignment had expired, from what was known of it at capture (its ``expiresOn``)."""
    expires = op.payload.get("expiresOn")
    if not isinstance(expires, str) or not expires:
        return False
    return datetime.fromisoformat(expires.replace("Z", "+00:00")).astimezone(UTC).timestamp() <= now


class PromotionRedeem(EngageCall):
    def __init__(
        self,
        client: EngageClient,
        status: LoyaltyStatus,
        clock: Callable[[], float],
        claimed_elsewhere: ClaimedElsewhere = _never,
    ) -> None:
        super().__init__(client, status, clock)
        # Does another op of ours already hold this assignment's redemption (the POS redeemed it again under a
        # new opId)? Then it is not this op's, however close in time.
        self.claimed_elsewhere = claimed_elsewhere

    def refusal(self, op: Op, exc: EngageHTTPError) -> Refused:
        if exc.code in REFUSAL_REASONS:
            reason = REFUSAL_REASONS[exc.code]
        else:
            reason = BY_STATUS.get(exc.status, f"engage_{exc.status}")
        if reason == "not_found" and _expired(op, self.clock()):
            reason = "expired"  # an ended promotion is no longer found; the cashier is told why
        return Refused(reason, exc.status)

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async def refused(exc: EngageHTTPError) -> Outcome:
            if exc.code == "PromotionAlreadyRedeemed" and any(
                (a.outcome or "unknown").startswith("unknown") for a in attempts[:-1]
            ):
                # An earlier attempt of ours went unanswered: the redemption Engage has may be that one. The
                # current attempt is left out: its 409 proves the redemption happened before it.
                return await self.reconcile(op, attempts[:-1])
            return self.refusal(op, exc)

        return await self._call(
            lambda: self.client.redeem_promotion(op.target_id, CHANNEL), lambda _: Confirmed("redeemed"), refused
        )

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            promotion = None
            for channel in OWNER_LISTS:
                promotion = _find(await self.client.list_promotions(op.contact_id, channel), op.target_id)
                if promotion is not None:
                    break
        except EngageError as exc:
            # Still unknown. A 4xx here (the contact not found) proves Engage reachable — the breaker counts only
            # transport failures — but says nothing final about the redemption.
            self.status.record_failure(exc)
            return Unknown("reconcile_failed")
        self.status.record_success()
        if promotion is None:
            return Unknown("not_in_owner_offers")
        if promotion.redeemed or promotion.redeemed_on is not None:
            if await self.claimed_elsewhere(op):
                return Refused("already_redeemed")
            if promotion.redeemed_on is not None and in_our_window(
                promotion.redeemed_on, attempts, self.client.server_offset, self.clock()
            ):
                return Confirmed("reconciled")
            return Conflict("already_redeemed")
        if promotion.expires_on is not None and promotion.expires_on.timestamp() <= self.clock():
            return Refused("expired")
        return Resend("not_redeemed")
