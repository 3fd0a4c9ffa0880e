"""Sales through the outbox, as Engage receipts.

Engage ignores a receipt whose ``uniqueReceiptId`` it has seen (engage-api.md), so a receipt that got no answer
is sent again as it is: no reconciliation GET exists for receipts, and none is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..engage import EngageHTTPError, PostResult
from .engage_call import EngageCall
from .model import Attempt, Confirmed, Op, Outcome, Refused, Resend


class SaleReceiptDelivery(EngageCall):
    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async def refused(exc: EngageHTTPError) -> Outcome:
            # Engage refusing this receipt; the sale has happened, so the store makes it a conflict.
            return Refused(f"receipt_{(exc.code or str(exc.status)).lower()}", exc.status)

        def delivered(result: PostResult) -> Outcome:
            duplicate = isinstance(result.body, dict) and bool(result.body.get("duplicate"))
            return Confirmed("duplicate" if duplicate else "delivered")

        return await self._call(lambda: self.client.create_receipt(op.payload["receipt"]), delivered, refused)

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        return Resend("receipt_id_deduplicates")
