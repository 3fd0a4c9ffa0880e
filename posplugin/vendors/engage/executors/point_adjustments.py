"""Manual point adjustments (goodwill, corrections) through the outbox.

The ``transactionId`` is made once at capture (the op's target) and sent on every retry. Whether Engage treats a
repeated ``transactionId`` as the same transaction is not documented, and a single transaction has been seen
answered 202 and applied later. So an unanswered attempt is reconciled before any re-send — by the
``transactionId`` (``GET /point-transactions/{id}``, [assumed] to accept the client-made id), then by the short
reference (``ref:<first 8 of the id>``) in the account's recent transactions — and "no trace yet" means
"check again later" until ``point_settle_seconds`` have passed since the last attempt: only then is it re-sent.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ....loyalty.status import LoyaltyStatus
from ....outbox.model import Attempt, Confirmed, Op, Outcome, Refused, Resend, Unknown
from .. import EngageClient, EngageError, EngageHTTPError, EngageServerError
from .call import EngageCall

RECENT = 100  # transactions searched when reconciling


def reference(transaction_id: str) -> str:
    return f"ref:{transaction_id[:8]}"


class PointAdjustment(EngageCall):
    def __init__(
        self, client: EngageClient, status: LoyaltyStatus, clock: Callable[[], float], settle_seconds: float
    ) -> None:
        super().__init__(client, status, clock)
        self.settle_seconds = settle_seconds

    async def _account(self, op: Op) -> str | None:
        definition = int(op.payload.get("definitionId", 1))
        accounts = await self.client.get_point_accounts(op.contact_id)
        return next((a.id for a in accounts if a.definition_id == definition), None)

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        amount = int(op.payload["amount"])

        async def add() -> bool:
            account_id = await self._account(op)
            if account_id is None:
                return False
            await self.client.add_point_transaction(
                {
                    "accountId": account_id,
                    "transactionId": op.target_id,
                    "transactionType": "Addition" if amount > 0 else "Deduction",
                    "amount": amount,
                    "description": f"{op.payload.get('description', '')} ({reference(op.target_id)})",
                    "source": "Adjustment",
                    "transactionDate": datetime.fromtimestamp(op.created_at, UTC).isoformat(),
                    **{k: op.payload[k] for k in ("validFrom", "validTo") if op.payload.get(k)},
                }
            )
            return True

        async def refused(exc: EngageHTTPError) -> Outcome:
            return Refused("contact_not_found" if exc.status == 404 else f"engage_{exc.status}", exc.status)

        return await self._call(
            add, lambda added: Confirmed("adjusted") if added else Refused("no_point_account"), refused
        )

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            if await self._applied(op):
                self.status.record_success()
                return Confirmed("reconciled")
        except EngageError as exc:
            if not isinstance(exc, EngageHTTPError) or isinstance(exc, EngageServerError):
                self.status.record_failure(exc)
            return Unknown("reconcile_failed")
        self.status.record_success()
        last_sent = max((a.started_at for a in attempts), default=op.created_at)
        if self.clock() - last_sent < self.settle_seconds:
            return Unknown("settling")  # Engage may have accepted it and not applied it yet: look again later
        return Resend("not_applied")

    async def _applied(self, op: Op) -> bool:
        try:
            await self.client.get_point_transaction(op.target_id)
            return True
        except EngageHTTPError as exc:
            if exc.status != 404 or isinstance(exc, EngageServerError):
                raise
        account_id = await self._account(op)
        if account_id is None:
            return False
        page = await self.client.get_point_transactions(account_id, count=RECENT)
        return any(reference(op.target_id) in tx.description for tx in page.items)
