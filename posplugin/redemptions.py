"""Voucher redeem and reactivate as the POS sees them: capture durably, try online for a few seconds, then
answer honestly — done, rejected, or queued while the outbox carries on (through ``OpService``, which every
kind shares).

The vendor's redeem and reactivate calls (Engage's) carry no contact, so the agent is the only place that can
check that the voucher belongs to the member at the till: before capture it must be in that contact's own lists
(live; from the cached view when the vendor cannot be asked).

Offline (the loyalty system known unreachable) a redemption is accepted as ``queued`` only within limits: the
voucher was seen online in a cached member view that is recent enough and not expired, the till has fewer than N offline
operations waiting, and the loyalty system has not been away longer than the configured hours.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from .config import OfflineConfig
from .errors import AgentError
from .loyalty.errors import TRANSPORT_FAILURES, LoyaltyError, MemberNotFound
from .loyalty.kinds import VOUCHER_REACTIVATE, VOUCHER_REDEEM
from .loyalty.ports import MemberIds, VoucherLists
from .loyalty.status import LoyaltyStatus
from .member_cache import MemberCache
from .ops import OpService, checked_op_id
from .outbox.model import CONFIRMED, REJECTED
from .outbox.store import TargetBusy
from .texts import message

log = logging.getLogger(__name__)
# Which of the contact's voucher lists prove ownership, most likely first: one round trip in the usual case.
OWNER_LISTS = {VOUCHER_REDEEM: ("available", "all"), VOUCHER_REACTIVATE: ("redeemed", "all")}

__all__ = ["OfflineLimits", "RedemptionService"]


@dataclass(frozen=True)
class OfflineLimits:
    max_queued: int
    max_offline_seconds: float
    cashier_wait: float

    @classmethod
    def from_config(cls, offline: OfflineConfig) -> OfflineLimits:
        return cls(offline.max_queued_per_till, offline.max_offline_hours * 3600, offline.cashier_wait)


class RedemptionService:
    def __init__(
        self,
        ops: OpService,
        cache: MemberCache,
        status: LoyaltyStatus,
        limits: Callable[[], OfflineLimits],
        language: str,
        clock: Callable[[], float],
        vouchers: VoucherLists,
        ids: MemberIds,
    ) -> None:
        self.vouchers = vouchers
        self.ids = ids
        self.ops = ops
        self.store = ops.store
        self.cache = cache
        self.status = status
        self.limits = limits  # read per call: the settings page changes them live
        self.language = language
        self.clock = clock

    # ---- public ----------------------------------------------------------------------------------------

    async def redeem(self, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        return await self._submit(VOUCHER_REDEEM, voucher_id, contact_id, op_id)

    async def reactivate(self, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        return await self._submit(VOUCHER_REACTIVATE, voucher_id, contact_id, op_id)

    def _validate(self, voucher_id: str, contact_id: str, op_id: str | None) -> tuple[str, str, str]:
        return (
            self.ids.voucher(voucher_id, self.language),
            self.ids.member(contact_id, self.language),
            checked_op_id(op_id),
        )

    async def _submit(self, kind: str, voucher_id: str, contact_id: str, op_id: str | None) -> dict[str, Any]:
        voucher_id, contact_id, op_id = self._validate(voucher_id, contact_id, op_id)

        async def create() -> dict[str, Any]:
            now = self.clock()
            owned = None if self.status.is_offline else await self._owned(kind, voucher_id, contact_id)
            offline = owned is None
            outcome: dict[str, Any] = {}
            if offline:
                refusal = await self._offline_refusal(kind, voucher_id, contact_id, now)
                # Refused offline: stored all the same, so the same opId keeps getting the same answer.
                outcome = (
                    {"state": REJECTED, "reason": refusal} if refusal else {"reported_queued": True, "offline": True}
                )
            number = owned or await self._cached_number(voucher_id, contact_id)
            try:
                op, _ = await self.store.capture(
                    op_id=op_id,
                    kind=kind,
                    target_id=voucher_id,
                    contact_id=contact_id,
                    now=now,
                    payload={"voucherNumber": number} if number else None,
                    **outcome,
                )
            except TargetBusy as busy:
                raise AgentError(
                    409, "voucher_busy", f"{message('voucher_busy', self.language)} (opId {busy.live.op_id})"
                ) from None
            return self.ops.describe(op) if offline else await self.ops.answer(op)

        return await self.ops.once(op_id, kind, contact_id, None, voucher_id, create)

    async def _cached_number(self, voucher_id: str, contact_id: str) -> str | None:
        cached = await self.cache.get(contact_id)
        vouchers = cached.view.get("vouchers", []) if cached is not None else []
        return next((str(v.get("voucherNumber") or "") for v in vouchers if v.get("id") == voucher_id), None)

    async def _redeemed_here(self, voucher_id: str, contact_id: str) -> bool:
        """Did an op of ours redeem this voucher for this member? (Proof of ownership for giving it back.)"""
        return any(
            op.kind == VOUCHER_REDEEM and op.state == CONFIRMED and op.contact_id == contact_id
            for op in await self.store.ops_for_target(voucher_id)
        )

    async def _owned(self, kind: str, voucher_id: str, contact_id: str) -> str | None:
        """The voucher's number ("" when not known), once it is found in this contact's own lists — or, for a
        reactivation, redeemed by this till for this member. ``None`` when Engage cannot be asked in time (the
        offline rules then decide, from the cached view). Not the contact's: 422 ``voucher_not_owned``."""
        try:
            async with asyncio.timeout(self.limits().cashier_wait):
                for which in OWNER_LISTS[kind]:
                    vouchers = await self.vouchers.vouchers(contact_id, which)
                    found = next((v for v in vouchers if str(v.get("id", "")).lower() == voucher_id), None)
                    if found is not None:
                        self.status.record_success()
                        return str(found.get("voucherNumber") or "")
        except TimeoutError:
            return None
        except MemberNotFound:
            self.status.record_success()
            raise AgentError(404, "member_not_found", message("member_not_found", self.language)) from None
        except LoyaltyError as exc:
            if isinstance(exc, TRANSPORT_FAILURES):
                self.status.record_failure(exc)
                return None
            self.status.record_success()
            raise AgentError(502, "loyalty_error", message("loyalty_error", self.language)) from None
        self.status.record_success()
        if kind == VOUCHER_REACTIVATE and await self._redeemed_here(voucher_id, contact_id):
            return ""  # the lists may lag behind our own redemption
        raise AgentError(422, "voucher_not_owned", message("voucher_not_owned", self.language))

    async def _offline_refusal(self, kind: str, voucher_id: str, contact_id: str, now: float) -> str | None:
        """``None`` when the op may be queued offline, else the reason it may not."""
        offline_since = self.status.offline_since
        if offline_since is not None and now - offline_since > self.limits().max_offline_seconds:
            return "offline_not_allowed"
        if await self.store.count_live_offline() >= self.limits().max_queued:
            return "offline_not_allowed"
        cached = await self.cache.get(contact_id)
        fresh = cached is not None and now - cached.fetched_at <= self.limits().max_offline_seconds
        seen = fresh and cached is not None and any(v.get("id") == voucher_id for v in cached.view.get("vouchers", []))
        if kind == VOUCHER_REACTIVATE:
            # Giving value back is safe to queue — for a voucher known to be this member's.
            if not (seen or await self._redeemed_here(voucher_id, contact_id)):
                raise AgentError(422, "voucher_not_owned", message("voucher_not_owned", self.language))
            return None
        confirmed = await self.store.last_confirmed(voucher_id)
        if confirmed is not None and confirmed.kind == VOUCHER_REDEEM:
            return "already_redeemed"
        if not seen or cached is None:
            return "offline_not_allowed"
        voucher = next(v for v in cached.view.get("vouchers", []) if v.get("id") == voucher_id)
        expires = voucher.get("expiresOn")
        if expires and datetime.fromisoformat(expires.replace("Z", "+00:00")).timestamp() <= now:
            return "expired"
        return None
