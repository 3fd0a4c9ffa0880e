"""What sending and reconciling a voucher redeem or reactivate means against Engage.

Redeem has no idempotency key (seed 004): the voucher's own state is the only truth. So an answer we did not get
is settled by reading the redeemed list, and Engage's "already redeemed" counts as ours only when the voucher's
``redeemedOn`` falls inside one of our own unanswered attempts (server time, with a skew allowance).

Reconciliation reads only the owner's lists (the op's contact, checked before capture). A voucher missing from
them is never taken as "not found": a list can lag, or the contact be merged; the op stays unknown and is read
again later, until the outbox's limits park it for a person.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from ....loyalty.status import LoyaltyStatus
from ....outbox.model import Attempt, Confirmed, Conflict, Op, Outcome, Refused, Resend, Unknown
from .. import (
    EngageClient,
    EngageError,
    EngageHTTPError,
    Voucher,
)
from .call import EngageCall

# How far outside our own attempt a redemption may be stamped and still be ours. With Engage's clock measured
# from its Date header (1 s resolution, truncated), the true offset lies in [measured, measured + 1 s + RTT]:
# a stamp can be at most a little early and up to ~1 s late. Without a measurement, allow 5 s either way.
EARLY_MEASURED, LATE_MEASURED = 0.5, 2.0
SKEW_UNMEASURED = 5.0

REFUSAL_REASONS = {
    "RewardVoucherAlreadyRedeemed": "already_redeemed",
    "RewardVoucherExpired": "expired",
    "RewardVoucherNotFound": "not_found",
    "InvalidRewardVoucherId": "invalid",
    "ReactivationLimitExceeded": "reactivation_limit",
}


def refusal(exc: EngageHTTPError) -> Refused:
    if exc.code in REFUSAL_REASONS:
        return Refused(REFUSAL_REASONS[exc.code], exc.status)
    by_status = {404: "not_found", 400: "invalid", 409: "engage_conflict", 422: "invalid"}
    return Refused(by_status.get(exc.status, f"engage_{exc.status}"), exc.status)


def in_our_window(redeemed_on: datetime, attempts: Sequence[Attempt], offset: float | None, now: float) -> bool:
    """Did Engage stamp the redemption during one of our attempts that got no clear answer?"""
    stamp = redeemed_on.astimezone(UTC).timestamp()
    for attempt in attempts:
        if attempt.outcome is not None and not attempt.outcome.startswith("unknown"):
            continue
        shift = attempt.server_offset if attempt.server_offset is not None else offset
        early, late = (SKEW_UNMEASURED, SKEW_UNMEASURED) if shift is None else (EARLY_MEASURED, LATE_MEASURED)
        start = attempt.started_at + (shift or 0.0) - early
        end = (attempt.finished_at or now) + (shift or 0.0) + late
        if start <= stamp <= end:
            return True
    return False


def _find(vouchers: Sequence[Voucher], voucher_id: str) -> Voucher | None:
    wanted = voucher_id.lower()
    return next((v for v in vouchers if v.id.lower() == wanted), None)


ClaimedElsewhere = Callable[[Op], Awaitable[bool]]


async def _never(op: Op) -> bool:
    return False


class VoucherCall(EngageCall):
    def __init__(
        self,
        client: EngageClient,
        status: LoyaltyStatus,
        clock: Callable[[], float],
        claimed_elsewhere: ClaimedElsewhere = _never,
    ) -> None:
        super().__init__(client, status, clock)
        # Is the voucher's present redemption already another op of ours (e.g. the POS redeemed it again under
        # a new opId)? Then it cannot be this one's, however close in time.
        self.claimed_elsewhere = claimed_elsewhere

    def _unreadable(self, exc: EngageError) -> Outcome:
        """The owner's lists could not be read: still unknown. A 4xx here (the contact not found) proves Engage
        reachable — the breaker counts only transport failures — but says nothing final about the voucher."""
        self.status.record_failure(exc)
        return Unknown("reconcile_failed")


class VoucherRedeem(VoucherCall):
    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async def refused(exc: EngageHTTPError) -> Outcome:
            if exc.code == "RewardVoucherAlreadyRedeemed" and any(
                (a.outcome or "unknown").startswith("unknown") for a in attempts[:-1]
            ):
                # An earlier attempt of ours went unanswered: the redemption Engage has may be that one. The
                # current attempt is left out: its 409 proves the redemption happened before it.
                return await self.reconcile(op, attempts[:-1])
            return refusal(exc)

        return await self._call(
            lambda: self.client.redeem_voucher(op.target_id), lambda _: Confirmed("redeemed"), refused
        )

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            redeemed = await self.client.list_all_vouchers(op.contact_id, "redeemed")
            voucher = _find(redeemed, op.target_id)
            if voucher is None:
                voucher = _find(await self.client.list_all_vouchers(op.contact_id, "all"), op.target_id)
        except EngageError as exc:
            return self._unreadable(exc)
        self.status.record_success()
        if voucher is None:
            return Unknown("not_in_owner_lists")
        if voucher.redeemed:
            if await self.claimed_elsewhere(op):
                return Refused("already_redeemed")
            if voucher.redeemed_on is not None and in_our_window(
                voucher.redeemed_on, attempts, self.client.server_offset, self.clock()
            ):
                return Confirmed("reconciled")
            return Conflict("already_redeemed")
        if voucher.expires_on is not None and voucher.expires_on.timestamp() <= self.clock():
            return Refused("expired")
        return Resend("not_redeemed")


class VoucherReactivate(VoucherCall):
    """Undo of a redemption (a voided sale). "Already active" is the goal reached, so it is success."""

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async def refused(exc: EngageHTTPError) -> Outcome:
            if exc.code == "RewardVoucherAlreadyActivated":
                return Confirmed("already_active")
            return refusal(exc)

        return await self._call(
            lambda: self.client.reactivate_voucher(op.target_id), lambda _: Confirmed("reactivated"), refused
        )

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        try:
            voucher = _find(await self.client.list_all_vouchers(op.contact_id, "all"), op.target_id)
        except EngageError as exc:
            return self._unreadable(exc)
        self.status.record_success()
        if voucher is None:
            return Unknown("not_in_owner_lists")
        if not voucher.redeemed:
            return Confirmed("reconciled")
        return Resend("still_redeemed")
