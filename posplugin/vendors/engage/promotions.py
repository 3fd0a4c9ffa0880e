"""Promotion redemption as the POS sees it, with the voucher rules: check ownership, capture durably, try online
for a few seconds, then answer honestly — redeemed, rejected, or queued while the outbox carries on (through
``OpService``, which every kind shares) — and the promotion receipt.

Engage's redeem call names only the assignment, no contact (engage-api.md), so the agent is the only place that
can check that the promotion belongs to the member at the till: before capture the assignment must be in that
contact's own lists (live; from the cached view when Engage cannot be asked in time).

Offline a redemption is accepted as ``queued`` within the voucher limits (``OfflineLimits``): the promotion was
seen in a cached member view recent enough and has not expired, the till has fewer than N offline operations
waiting, and Engage has not been away longer than the configured hours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from ...errors import AgentError
from ...loyalty.kinds import PROMOTION_REDEEM
from ...loyalty.status import TRANSPORT_FAILURES, LoyaltyStatus
from ...member_cache import MemberCache
from ...ops import OpService, checked_op_id
from ...outbox.model import CONFIRMED, REJECTED, Op
from ...outbox.store import OutboxStore, TargetBusy
from ...receipts.service import ReceiptService
from ...redemptions import OfflineLimits
from ...texts import message
from . import EngageClient, EngageError, EngageHTTPError, Promotion
from .ids import checked_guid
from .promotion_view import promotion_json

# Which of the contact's lists prove ownership, most likely first: one round trip in the usual case. An
# assignment found only outside the POS list is still the member's (Engage then says where it is valid).
OWNER_CHANNELS: tuple[str | None, ...] = ("POS", None)

__all__ = ["PromotionService", "claimed_by_another_op"]


def claimed_by_another_op(store: OutboxStore) -> Callable[[Op], Awaitable[bool]]:
    """For the executor: does another op of ours already hold this assignment's redemption?"""

    async def claimed(op: Op) -> bool:
        last = await store.last_confirmed(op.target_id)
        return last is not None and last.op_id != op.op_id and last.kind == PROMOTION_REDEEM

    return claimed


def expired(expires_on: Any, now: float) -> bool:
    if not isinstance(expires_on, str) or not expires_on:
        return False
    return datetime.fromisoformat(expires_on.replace("Z", "+00:00")).astimezone(UTC).timestamp() <= now


def _find(promotions: Any, assignment_id: str) -> dict[str, Any] | None:
    items = promotions if isinstance(promotions, list) else []
    return next((p for p in items if isinstance(p, dict) and p.get("id") == assignment_id), None)


class PromotionService:
    def __init__(
        self,
        ops: OpService,
        cache: MemberCache,
        status: LoyaltyStatus,
        limits: Callable[[], OfflineLimits],
        language: str,
        clock: Callable[[], float],
        client: EngageClient,
        receipts: ReceiptService,
    ) -> None:
        self.ops = ops
        self.store = ops.store
        self.cache = cache
        self.status = status
        self.limits = limits  # read per call: the settings page changes them live
        self.language = language
        self.clock = clock
        self.client = client
        self.receipts = receipts

    def _error(self, status: int, code: str, note: str = "") -> AgentError:
        return AgentError(status, code, message(code, self.language) + (f" ({note})" if note else ""))

    # ---- redeem ----------------------------------------------------------------------------------------

    async def redeem(self, assignment_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        assignment_id = checked_guid(assignment_id, "assignmentId", self.language)
        contact_id = checked_guid(contact_id, "contactId", self.language)
        op_id = checked_op_id(op_id)

        async def create() -> dict[str, Any]:
            now = self.clock()
            owned = None if self.status.is_offline else await self._owned(assignment_id, contact_id)
            offline = owned is None
            outcome: dict[str, Any] = {}
            if offline:
                refusal = await self._offline_refusal(assignment_id, contact_id, now)
                # Refused offline: stored all the same, so the same opId keeps getting the same answer.
                outcome = (
                    {"state": REJECTED, "reason": refusal} if refusal else {"reported_queued": True, "offline": True}
                )
            shown = owned or await self._cached(assignment_id, contact_id) or {}
            try:
                op, _ = await self.store.capture(
                    op_id=op_id,
                    kind=PROMOTION_REDEEM,
                    target_id=assignment_id,
                    contact_id=contact_id,
                    now=now,
                    # What the receipt and the sale need after the promotion has left the member's view.
                    payload={k: v for k, v in shown.items() if k != "id"},
                    **outcome,
                )
            except TargetBusy as busy:
                raise self._error(409, "promotion_busy", f"opId {busy.live.op_id}") from None
            return self.ops.describe(op) if offline else await self.ops.answer(op)

        return await self.ops.once(op_id, PROMOTION_REDEEM, contact_id, None, assignment_id, create)

    async def _owned(self, assignment_id: str, contact_id: str) -> dict[str, Any] | None:
        """The promotion as shown, once the assignment is found in this contact's own lists. ``None`` when Engage
        cannot be asked in time, or answers something that is no answer about the member (the offline rules
        then decide, from the cached view). Not the contact's: 422 ``promotion_not_owned``."""
        seen: list[Promotion] = []
        try:
            async with asyncio.timeout(self.limits().cashier_wait):
                for channel in OWNER_CHANNELS:
                    promotions = await self.client.list_promotions(contact_id, channel)
                    seen.extend(promotions)
                    found = next((p for p in promotions if p.id.lower() == assignment_id), None)
                    if found is not None:
                        self.status.record_success()
                        return promotion_json(found)
        except TimeoutError:
            return None
        except EngageError as exc:
            not_found = isinstance(exc, EngageHTTPError) and exc.status in (400, 404)
            if not_found and not isinstance(exc, TRANSPORT_FAILURES):
                self.status.record_success()
                raise self._error(404, "member_not_found") from None
            self.status.record_failure(exc)  # counts only transport failures against the breaker
            return None
        self.status.record_success()
        if any(p.promotion_id.lower() == assignment_id for p in seen):
            raise self._error(422, "promotion_not_owned", "this is a promotionId: redeem takes the assignment's id")
        raise self._error(422, "promotion_not_owned")

    async def _cached(self, assignment_id: str, contact_id: str) -> dict[str, Any] | None:
        cached = await self.cache.get(contact_id)
        return _find(cached.view.get("promotions"), assignment_id) if cached is not None else None

    async def _redeemed_here(self, assignment_id: str) -> bool:
        confirmed = await self.store.last_confirmed(assignment_id)
        return confirmed is not None and confirmed.kind == PROMOTION_REDEEM

    async def _offline_refusal(self, assignment_id: str, contact_id: str, now: float) -> str | None:
        """``None`` when the redemption may be queued offline, else the reason it may not (the voucher rules)."""
        limits = self.limits()
        offline_since = self.status.offline_since
        if offline_since is not None and now - offline_since > limits.max_offline_seconds:
            return "offline_not_allowed"
        if await self.store.count_live_offline() >= limits.max_queued:
            return "offline_not_allowed"
        if await self._redeemed_here(assignment_id):
            return "already_redeemed"
        cached = await self.cache.get(contact_id)
        if cached is None or now - cached.fetched_at > limits.max_offline_seconds:
            return "offline_not_allowed"
        seen = _find(cached.view.get("promotions"), assignment_id)
        if seen is None:
            return "offline_not_allowed"  # never seen for this member: ownership cannot be shown
        if expired(seen.get("expiresOn"), now):
            return "expired"
        return None

    # ---- receipt ---------------------------------------------------------------------------------------

    async def print_receipt(self, contact_id: str, assignment_id: str) -> dict[str, Any]:
        """The promotion's slip. One whose redemption is done, queued or on the wire prints as used."""
        contact_id = checked_guid(contact_id, "contactId", self.language)
        assignment_id = checked_guid(assignment_id, "assignmentId", self.language)
        view = await self.receipts.member_view(contact_id)
        ours = [
            op
            for op in await self.store.ops_for_target(assignment_id)
            if op.kind == PROMOTION_REDEEM and op.contact_id == contact_id
        ]
        used = any(op.is_live or op.state == CONFIRMED for op in ours)
        promotion = _find(view.get("promotions"), assignment_id)
        if promotion is None and ours:
            promotion = {"id": assignment_id, **ours[-1].payload}  # redeemed here: gone from the view
        if promotion is None:
            promotion, redeemed = await self._from_engage(contact_id, assignment_id)
            used = used or redeemed
        context = self.receipts.composer.promotion_context(view, promotion, used=used)
        return await self.receipts.print_promotion(context, contact_id)

    async def _from_engage(self, contact_id: str, assignment_id: str) -> tuple[dict[str, Any], bool]:
        try:
            promotions = await self.client.list_promotions(contact_id, None)
        except EngageError:
            raise self._error(404, "promotion_not_found") from None
        found = next((p for p in promotions if p.id.lower() == assignment_id), None)
        if found is None:
            raise self._error(404, "promotion_not_found")
        return promotion_json(found), found.redeemed or found.redeemed_on is not None
