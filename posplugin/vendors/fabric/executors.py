"""Outbox executors for fabric: what sending and reconciling each kind of op means.

Payloads (set at capture):

- ``sale_earn``: ``{"earn": <earn or reverse body from earn_rules.earn_payload>}``, or ``{"earn": {...without
  profileId}, "memberCode": "..."}`` when the member is known only by a scanned code. The duplicate check on the
  receipt id makes a re-send safe, so an unanswered earn is simply sent again and a "duplicate" answer is done.
- ``reward_redeem``: ``{"profileId", "location", "amount": "50.00"}``; issue, then redeem. Issue has no idempotency
  key: the ``redemptionCode`` is stored in the op (``RewardCodes.save``) between the two steps, and after an issue
  that got no answer the member's reward history decides — adopt the Active reward of that value created inside
  an unanswered attempt, cancel any extra one, issue again only when none is there.
- ``reward_reverse``: ``{"profileId", "redemptionCode"}``; cancel before redemption, reverse after.

Failures are the neutral ``posplugin.loyalty.errors``: nothing sent → ``NotSent``; maybe processed → ``Unknown``.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Protocol, TypeVar

from ...loyalty.errors import (
    LoyaltyAuthError,
    LoyaltyCongested,
    LoyaltyError,
    LoyaltyHTTPError,
    LoyaltyNoAnswer,
    LoyaltyRateLimited,
    LoyaltyServerError,
    LoyaltyUnreachable,
)
from ...outbox.model import Attempt, Confirmed, Conflict, NotSent, Op, Outcome, Refused, Resend, Unknown
from .client import FabricClient
from .earn_rules import is_reverse
from .errors import FabricHTTPError
from .models import Reward

log = logging.getLogger(__name__)
T = TypeVar("T")
# [assumed] How far a reward's createdAt (fabric's clock) may fall outside our attempt and still be ours.
REWARD_CLOCK_SKEW = 5.0
OUTCOMES = (Confirmed, Refused, Conflict, Unknown, NotSent, Resend)


class Breaker(Protocol):
    def record_success(self) -> None: ...
    def record_failure(self, exc: Exception) -> None: ...


class RewardCodes(Protocol):
    """Where a reward op keeps its redemptionCode: the lead's outbox store writes it into the op's payload, so the
    next ``send``/``reconcile`` of that op sees ``payload["redemptionCode"]``."""

    async def save(self, op_id: str, code: str) -> None: ...
    async def claimed(self, code: str, op_id: str) -> bool:
        """Is ``code`` already another op's?"""
        ...


ResolveCode = Callable[[str], Awaitable[str | None]]


@dataclass(frozen=True)
class Refusal:
    """fabric answered this operation with a 4xx of its own."""

    error: LoyaltyHTTPError


def failure_outcome(exc: LoyaltyError) -> Outcome:
    """Failures that say nothing about the operation: sent-or-not decides between retry and reconcile."""
    if isinstance(exc, LoyaltyRateLimited):
        return NotSent("rate_limited", exc.retry_after if exc.retry_after is not None else 1.0, 429)
    if isinstance(exc, LoyaltyAuthError):
        return NotSent("loyalty_auth", None, exc.status)  # a 401/403 was not processed
    if isinstance(exc, LoyaltyCongested):
        return NotSent("congested")
    if isinstance(exc, LoyaltyUnreachable):
        return NotSent("loyalty_unreachable", unreached=True)
    if isinstance(exc, LoyaltyServerError):
        return Unknown(f"http_{exc.status}", exc.status)
    if isinstance(exc, LoyaltyNoAnswer):
        return Unknown("no_answer")
    return Unknown("bad_answer")


def _unanswered(attempt: Attempt) -> bool:
    return attempt.outcome is None or attempt.outcome.startswith("unknown")


def created_in_window(created: datetime | None, attempts: Sequence[Attempt], now: float) -> bool:
    """Was a reward created during one of our attempts that got no clear answer?"""
    if created is None:
        return False
    stamp = created.timestamp()
    return any(
        a.started_at - REWARD_CLOCK_SKEW <= stamp <= (a.finished_at or now) + REWARD_CLOCK_SKEW
        for a in attempts
        if _unanswered(a)
    )


class FabricCall:
    def __init__(self, client: FabricClient, breaker: Breaker, clock: Callable[[], float]) -> None:
        self.client = client
        self.breaker = breaker
        self.clock = clock

    async def _guarded(self, call: Callable[[], Awaitable[T]]) -> T | Refusal | Outcome:
        """The call's result, fabric's refusal of it, or the outcome of a failure that says nothing about it."""
        try:
            result = await call()
        except (LoyaltyRateLimited, LoyaltyAuthError, LoyaltyServerError) as exc:
            self.breaker.record_failure(exc)
            return failure_outcome(exc)
        except LoyaltyHTTPError as exc:
            self.breaker.record_success()  # a refusal proves fabric reachable
            return Refusal(exc)
        except LoyaltyCongested as exc:
            return failure_outcome(exc)  # our own pool: not fabric's fault, not the breaker's business
        except LoyaltyError as exc:
            self.breaker.record_failure(exc)
            return failure_outcome(exc)
        self.breaker.record_success()
        return result

    async def _history(self, profile_id: str) -> list[Reward] | Outcome:
        found = await self._guarded(lambda: self.client.reward_history(profile_id))
        if isinstance(found, (Refusal, *OUTCOMES)):
            return Unknown("reconcile_failed")  # still unknown; the outbox reads again later
        return found


def _reason(prefix: str, exc: LoyaltyHTTPError) -> Refused:
    return Refused(f"{prefix}_{exc.code or exc.status}".lower(), exc.status)


class SaleEarn(FabricCall):
    def __init__(
        self,
        client: FabricClient,
        breaker: Breaker,
        clock: Callable[[], float],
        resolve_code: ResolveCode | None = None,
    ) -> None:
        super().__init__(client, breaker, clock)
        self.resolve_code = resolve_code

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        payload = dict(op.payload["earn"])
        if not payload.get("profileId"):
            code = op.payload.get("memberCode")
            if not code or self.resolve_code is None:
                return Refused("earn_no_member")
            try:
                profile_id = await self.resolve_code(str(code))
            except LoyaltyError as exc:
                return NotSent("member_lookup_failed", None, getattr(exc, "status", None))  # only a lookup went out
            if not profile_id:
                return Refused("earn_member_not_found", 404)
            payload["profileId"] = profile_id
        reverse = is_reverse(payload)
        call = self.client.reverse_earn if reverse else self.client.earn
        result = await self._guarded(lambda: call(payload))
        if isinstance(result, Refusal):
            refused = result.error
            if isinstance(refused, FabricHTTPError) and refused.is_duplicate:
                return Confirmed("duplicate")  # fabric has this receipt already: ours, from an unanswered attempt
            return _reason("earn", refused)
        if isinstance(result, OUTCOMES):
            return result
        return Confirmed("reversed" if reverse else "earned")

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        return Resend("duplicate_check")  # the receipt id under the duplicate check makes a re-send safe


class RewardRedeem(FabricCall):
    def __init__(self, client: FabricClient, breaker: Breaker, clock: Callable[[], float], codes: RewardCodes) -> None:
        super().__init__(client, breaker, clock)
        self.codes = codes
        # One reward op of a member at a time: the history cannot tell a reward another op is issuing right now
        # (its code not saved yet) from an extra one of ours, and cancelling it would take that op's reward.
        self._members: dict[str, asyncio.Lock] = {}

    def _member(self, op: Op) -> asyncio.Lock:
        return self._members.setdefault(str(op.payload["profileId"]), asyncio.Lock())

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async with self._member(op):
            return await self._send(op, attempts)

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        async with self._member(op):
            return await self._reconcile(op, attempts)

    @staticmethod
    def _amount(op: Op) -> Decimal:
        try:
            return Decimal(str(op.payload["amount"])).quantize(Decimal("0.01"))
        except (KeyError, InvalidOperation) as exc:
            raise ValueError("a reward_redeem op needs an amount") from exc

    async def _send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        profile, location = str(op.payload["profileId"]), str(op.payload["location"])
        code = op.payload.get("redemptionCode")
        if code:
            return await self._redeem(op, str(code))
        amount = self._amount(op)
        issued = await self._guarded(lambda: self.client.issue_reward(profile, location, amount))
        if isinstance(issued, Refusal):
            exc = issued.error
            if isinstance(exc, FabricHTTPError) and exc.is_insufficient_points:
                return Refused("insufficient_points", exc.status)
            if exc.status == 404:
                return Refused("member_not_found", 404)
            return _reason("reward", exc)
        if isinstance(issued, OUTCOMES):
            return Unknown("issue_unanswered") if isinstance(issued, Unknown) else issued
        await self.codes.save(op.op_id, issued.redemption_code)
        if any(_unanswered(a) for a in attempts[:-1]):
            # An earlier issue went unanswered and the history did not show it then: it may show it now.
            history = await self._history(profile)
            if not isinstance(history, OUTCOMES):
                await self._cancel_extras(op, history, issued.redemption_code, attempts[:-1])
        return await self._redeem(op, issued.redemption_code)

    async def _redeem(self, op: Op, code: str) -> Outcome:
        profile, location = str(op.payload["profileId"]), str(op.payload["location"])
        done = await self._guarded(lambda: self.client.redeem_reward(profile, location, code))
        if isinstance(done, Refusal):
            return await self._settle_by_code(op, code)  # e.g. already redeemed by our unanswered attempt
        if isinstance(done, OUTCOMES):
            return Unknown("redeem_unanswered") if isinstance(done, Unknown) else done
        return Confirmed("redeemed")

    async def _settle_by_code(self, op: Op, code: str) -> Outcome:
        history = await self._history(str(op.payload["profileId"]))
        if isinstance(history, OUTCOMES):
            return history
        reward = next((r for r in history if r.redemption_code == code), None)
        if reward is None:
            return Unknown("reward_not_in_history")
        if reward.status == "Redeemed":
            return Confirmed("reconciled")
        if reward.active:
            return Resend("redeem_pending")
        return Conflict(f"reward_{reward.status.lower() or 'unknown'}")

    async def _reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        code = op.payload.get("redemptionCode")
        if code:
            return await self._settle_by_code(op, str(code))
        history = await self._history(str(op.payload["profileId"]))
        if isinstance(history, OUTCOMES):
            return history
        amount = self._amount(op)
        now = self.clock()
        mine = [
            r
            for r in history
            if r.active
            and r.value == amount
            and created_in_window(r.created_at, attempts, now)
            and not await self.codes.claimed(r.redemption_code, op.op_id)
        ]
        if not mine:
            untimed = [r for r in history if r.active and r.value == amount and r.created_at is None]
            if any([not await self.codes.claimed(r.redemption_code, op.op_id) for r in untimed]):
                # A reward that may be ours, but the history gives no time to tell: issuing again could make
                # two. It stays unknown until the outbox's limits hand it to a person.
                return Unknown("reward_time_unknown")
            return Resend("not_issued")
        mine.sort(key=lambda r: r.created_at.timestamp() if r.created_at else 0.0)
        keep = mine[0].redemption_code
        await self.codes.save(op.op_id, keep)
        await self._cancel_extras(op, history, keep, attempts)
        return Resend("adopted")  # the next send redeems the adopted reward

    async def _cancel_extras(self, op: Op, history: Sequence[Reward], keep: str, attempts: Sequence[Attempt]) -> None:
        """Cancel Active rewards of this value from our unanswered attempts other than ``keep``: one op, one reward."""
        amount, profile, now = self._amount(op), str(op.payload["profileId"]), self.clock()
        for reward in history:
            code = reward.redemption_code
            if code == keep or not reward.active or reward.value != amount:
                continue
            if not created_in_window(reward.created_at, attempts, now) or await self.codes.claimed(code, op.op_id):
                continue
            outcome = await self._guarded(functools.partial(self.client.cancel_reward, profile, code))
            if isinstance(outcome, (Refusal, *OUTCOMES)):
                log.warning("op %s: an extra reward could not be cancelled yet (%s)", op.op_id, outcome)
            else:
                log.info("op %s: cancelled an extra reward issued by an unanswered attempt", op.op_id)


class RewardReverse(FabricCall):
    """Undo of a reward for a voided sale: cancel while Active, reverse once Redeemed."""

    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        profile, code = str(op.payload["profileId"]), str(op.payload["redemptionCode"])
        history = await self._history(profile)
        if isinstance(history, OUTCOMES):
            return NotSent("history_unreadable")  # only a read went out
        reward = next((r for r in history if r.redemption_code == code), None)
        if reward is None:
            return Refused("reward_not_found", 404)
        if reward.status in ("Cancelled", "Reversed"):
            return Confirmed("already_undone")
        if reward.status == "Expired":
            return Refused("reward_expired")
        undo = self.client.cancel_reward if reward.active else self.client.reverse_reward
        done = await self._guarded(lambda: undo(profile, code))
        if isinstance(done, Refusal):
            return await self.reconcile(op, attempts)  # its status moved between the read and the call
        if isinstance(done, OUTCOMES):
            return done
        return Confirmed("cancelled" if reward.active else "reversed")

    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome:
        history = await self._history(str(op.payload["profileId"]))
        if isinstance(history, OUTCOMES):
            return history
        reward = next((r for r in history if r.redemption_code == op.payload["redemptionCode"]), None)
        if reward is None:
            return Unknown("reward_not_in_history")
        if reward.status in ("Cancelled", "Reversed"):
            return Confirmed("reconciled")
        return Resend(f"still_{reward.status.lower()}")
