"""Point-shop purchases through the outbox.

Unlike a voucher redeem, the purchase is idempotent on (pointShopItemPurchaseId, contactId) (seed 002): the id
is generated once when the purchase is captured — it is the op's target — and sent byte for byte on every retry,
so an unanswered attempt can simply be confirmed from the purchase history or sent again.
"""

from __future__ import annotations

from collections.abc import Sequence

from ....outbox.model import Attempt, Confirmed, Conflict, Op, Outcome, Refused, Resend, Unknown
from .. import EngageError, EngageHTTPError, EngageServerError
from .call import EngageCall

REASONS = {
    "InsufficientPoints": "insufficient_points",
    "PointShopItemNotFound": "item_not_found",
    "PromotionAssignmentContactNotFound": "contact_not_found",
    "PromotionAssignmentPromotionNotFound": "promotion_removed",
    "PromotionAssignmentPromotionExpired": "promotion_expired",
    "PointShopItemPurchaseFailed": "purchase_failed",
    "InvalidContact": "contact_not_found",
}
# Answers that mean "not done yet, the same request may be sent again": the vendor marks them safe to retry.
RETRYABLE = {"PromotionAssignmentError", "PointShopItemPurchaseProcessingTimedOut"}


class PointShopPurchaseCall(EngageCall):
    retryable_codes = frozenset(RETRYABLE)

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        item_id = str(op.payload.get("itemId", ""))

        async def refused(exc: EngageHTTPError) -> Outcome:
            if exc.code == "PointShopItemPurchaseIdConflict":
                return Conflict("purchase_id_taken")  # cannot happen with ids we make; a person should look
            return Refused(REASONS.get(exc.code or "", "invalid" if exc.status == 400 else f"engage_{exc.status}"))

        return await self._call(
            lambda: self.client.purchase_point_shop_item(op.contact_id, op.target_id, item_id),
            lambda _: Confirmed("purchased"),
            refused,
        )

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            purchases = await self.client.list_point_shop_purchases(op.contact_id)
        except EngageHTTPError as exc:
            if exc.status == 404 and not isinstance(exc, EngageServerError):
                self.status.record_success()
                return Resend("not_purchased")  # no purchases at all: ours never happened
            self.status.record_failure(exc)
            return Unknown("reconcile_failed")
        except EngageError as exc:
            self.status.record_failure(exc)
            return Unknown("reconcile_failed")
        self.status.record_success()
        if any(p.id.lower() == op.target_id.lower() for p in purchases):
            return Confirmed("reconciled")
        return Resend("not_purchased")  # the same id again: Engage makes a retry of it idempotent
