"""Sales through the outbox, as Engage receipts.

Engage ignores a receipt whose ``uniqueReceiptId`` it has seen (engage-api.md), so a receipt that got no answer
is sent again as it is: no reconciliation GET exists for receipts, and none is needed.

A sale named by a scanned code the till had not seen goes with that code until the outbox resolves it to the
contactId just before sending (the receipt's ``matchKeyType`` is ``contactId``: a card number is not a valid one).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ....errors import AgentError
from ....loyalty.status import LoyaltyStatus
from ....outbox.model import Attempt, Confirmed, NotSent, Op, Outcome, Refused, Resend
from .. import EngageClient, EngageHTTPError, PostResult
from .call import EngageCall

ResolveCode = Callable[[str], Awaitable[str]]


class SaleReceiptDelivery(EngageCall):
    def __init__(
        self, client: EngageClient, status: LoyaltyStatus, clock: Callable[[], float], resolve_code: ResolveCode
    ) -> None:
        super().__init__(client, status, clock)
        self.resolve_code = resolve_code

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        receipt: dict[str, Any] = dict(op.payload["receipt"])
        code = op.payload.get("memberCode")
        if code and "contact" not in receipt:
            try:
                contact_id = await self.resolve_code(str(code))
            except AgentError as exc:
                if exc.status in (404, 409):
                    return Refused(f"receipt_{exc.code}", exc.status)  # the sale happened: a person decides
                return NotSent(exc.code)  # only a lookup went out: nothing of the sale was sent
            receipt["contact"] = {"matchKey": contact_id, "matchKeyType": "contactId"}

        async def refused(exc: EngageHTTPError) -> Outcome:
            # Engage refusing this receipt; the sale has happened, so the store makes it a conflict.
            return Refused(f"receipt_{(exc.code or str(exc.status)).lower()}", exc.status)

        def delivered(result: PostResult) -> Outcome:
            duplicate = isinstance(result.body, dict) and bool(result.body.get("duplicate"))
            return Confirmed("duplicate" if duplicate else "delivered")

        return await self._call(lambda: self.client.create_receipt(receipt), delivered, refused)

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        return Resend("receipt_id_deduplicates")
