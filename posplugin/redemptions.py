"""Voucher redeem and reactivate as the POS sees them: capture durably, try online for a few seconds, then
answer honestly — done, rejected, or queued while the outbox carries on.

Offline (Engage known unreachable) a redemption is accepted as ``queued`` only within limits: the voucher was
seen online in a cached member view that is recent enough and not expired, the till has fewer than N offline
operations waiting, and Engage has not been away longer than the configured hours.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .engage.ids import checked_guid
from .engage_status import EngageStatus
from .errors import AgentError
from .member_cache import MemberCache
from .outbox.model import REJECTED, VOUCHER_REACTIVATE, VOUCHER_REDEEM, Op
from .outbox.store import OpIdConflict, OutboxStore, TargetBusy
from .outbox.worker import OutboxWorker
from .texts import message

OP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


__all__ = ["OP_ID", "RedemptionService", "checked_guid", "checked_op_id"]


def checked_op_id(op_id: str | None) -> str:
    """The POS's opId, or a new one when it sent none."""
    if op_id is not None and not OP_ID.fullmatch(op_id):
        raise AgentError(422, "invalid_request", "opId must be 1-64 letters, digits, '-', '_', '.' or ':'")
    return op_id or str(uuid.uuid4())


@dataclass(frozen=True)
class OfflineLimits:
    max_queued: int
    max_offline_seconds: float
    cashier_wait: float


class RedemptionService:
    def __init__(
        self,
        store: OutboxStore,
        worker: OutboxWorker,
        cache: MemberCache,
        status: EngageStatus,
        limits: OfflineLimits,
        language: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.worker = worker
        self.cache = cache
        self.status = status
        self.limits = limits
        self.language = language
        self.clock = clock

    # ---- public ----------------------------------------------------------------------------------------

    async def redeem(self, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        return await self._submit(VOUCHER_REDEEM, voucher_id, contact_id, op_id)

    async def reactivate(self, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        return await self._submit(VOUCHER_REACTIVATE, voucher_id, contact_id, op_id)

    async def get(self, op_id: str) -> dict[str, Any]:
        op = await self.store.get(op_id)
        if op is None:
            raise AgentError(404, "not_found", message("not_found", self.language))
        return self.describe(op)

    async def queue(self) -> dict[str, Any]:
        counts = await self.store.counts()
        return {**counts, "ops": [self.describe(op) for op in await self.store.listing()]}

    async def retry(self, op_id: str) -> dict[str, Any]:
        await self._existing(op_id)
        op = await self.store.retry(op_id, self.clock())
        self.worker.wake()
        return self.describe(op)

    async def park(self, op_id: str) -> dict[str, Any]:
        await self._existing(op_id)
        return self.describe(await self.store.park(op_id, self.clock()))

    def describe(self, op: Op) -> dict[str, Any]:
        return op.to_json(self.language)

    # ---- internals -------------------------------------------------------------------------------------

    async def _existing(self, op_id: str) -> Op:
        op = await self.store.get(op_id)
        if op is None:
            raise AgentError(404, "not_found", message("not_found", self.language))
        return op

    def _validate(self, voucher_id: str, contact_id: str, op_id: str | None) -> tuple[str, str, str]:
        return checked_guid(voucher_id, "voucherId"), checked_guid(contact_id, "contactId"), checked_op_id(op_id)

    async def _submit(self, kind: str, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        voucher_id, contact_id, op_id = self._validate(voucher_id, contact_id, op_id)
        existing = await self.store.get(op_id)
        if existing is not None:
            if (existing.kind, existing.target_id, existing.contact_id) != (kind, voucher_id, contact_id):
                raise AgentError(409, "op_id_conflict", message("op_id_conflict", self.language))
            return await self.answer(existing)
        now = self.clock()
        offline = self.status.is_offline
        outcome: dict[str, Any] = {}
        if offline:
            refusal = await self._offline_refusal(kind, voucher_id, contact_id, now)
            # Refused offline: stored all the same, so the same opId keeps getting the same answer.
            outcome = {"state": REJECTED, "reason": refusal} if refusal else {"reported_queued": True, "offline": True}
        try:
            op, _ = await self.store.capture(
                op_id=op_id, kind=kind, target_id=voucher_id, contact_id=contact_id, now=now, **outcome
            )
        except OpIdConflict:
            raise AgentError(409, "op_id_conflict", message("op_id_conflict", self.language)) from None
        except TargetBusy as busy:
            raise AgentError(
                409, "voucher_busy", f"{message('voucher_busy', self.language)} (opId {busy.live.op_id})"
            ) from None
        return self.describe(op) if offline else await self.answer(op)

    async def answer(self, op: Op) -> dict[str, Any]:
        """Wait a few seconds for a live op; past that the POS hears "queued" and the request carries on."""
        if op.is_live:
            task = self.worker.kick(op.op_id)
            await asyncio.wait({task}, timeout=self.limits.cashier_wait)  # never cancels the task
            op = await self.store.mark_reported_queued(op.op_id, self.clock())
        return self.describe(op)

    async def _offline_refusal(self, kind: str, voucher_id: str, contact_id: str, now: float) -> str | None:
        """``None`` when the op may be queued offline, else the reason it may not."""
        offline_since = self.status.offline_since
        if offline_since is not None and now - offline_since > self.limits.max_offline_seconds:
            return "offline_not_allowed"
        if await self.store.count_live_offline() >= self.limits.max_queued:
            return "offline_not_allowed"
        if kind == VOUCHER_REACTIVATE:
            return None  # giving value back is safe to queue
        confirmed = await self.store.last_confirmed(voucher_id)
        if confirmed is not None and confirmed.kind == VOUCHER_REDEEM:
            return "already_redeemed"
        cached = await self.cache.get(contact_id)
        if cached is None or now - cached.fetched_at > self.limits.max_offline_seconds:
            return "offline_not_allowed"
        voucher = next((v for v in cached.view.get("vouchers", []) if v.get("id") == voucher_id), None)
        if voucher is None:
            return "offline_not_allowed"
        expires = voucher.get("expiresOn")
        if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() <= now:
            return "expired"
        return None
