"""Sales through the outbox, as Engage receipts.

Engage ignores a receipt whose ``uniqueReceiptId`` it has seen (engage-api.md), so a receipt that got no answer
is sent again as it is: no reconciliation GET exists for receipts, and none is needed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ..engage import EngageClient, EngageError, EngageHTTPError, EngageServerError
from ..engage_status import EngageStatus
from .model import Attempt, Confirmed, Op, Outcome, Refused, Resend
from .vouchers import transport_outcome


class SaleReceiptDelivery:
    def __init__(self, client: EngageClient, status: EngageStatus, clock: Callable[[], float]) -> None:
        self.client = client
        self.status = status
        self.clock = clock

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            result = await self.client.create_receipt(op.payload["receipt"])
        except EngageHTTPError as exc:
            if isinstance(exc, EngageServerError) or exc.status in (401, 403, 429):
                self.status.record_failure(exc)
                return transport_outcome(exc)
            self.status.record_success()
            # A 4xx is Engage refusing this receipt; the sale has happened, so the store makes it a conflict.
            return Refused(f"receipt_{(exc.code or str(exc.status)).lower()}", exc.status)
        except EngageError as exc:
            self.status.record_failure(exc)
            return transport_outcome(exc)
        self.status.record_success()
        duplicate = isinstance(result.body, dict) and bool(result.body.get("duplicate"))
        return Confirmed("duplicate" if duplicate else "delivered")

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        return Resend("receipt_id_deduplicates")
