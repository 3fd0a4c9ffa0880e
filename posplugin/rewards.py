"""Rewards issued from points at the till (fabric Loyalty keeps no list of waiting vouchers: the cashier asks for
a reward of a value, the vendor issues it from the member's points and it is redeemed at once).

One opId is one reward, through the outbox like every kind: the vendor's issue call has no idempotency key, so the
executor reconciles from the member's reward history after a lost answer (never two rewards for one op). Undo, for
a voided sale, is its own op that cancels the reward (before redemption) or reverses it (after).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import AgentError
from .loyalty.kinds import REWARD_REDEEM, REWARD_REVERSE
from .loyalty.ports import MemberIds
from .loyalty.status import LoyaltyStatus
from .ops import OpService, checked_op_id
from .outbox.model import CONFIRMED, Op
from .outbox.store import TargetBusy
from .texts import message

log = logging.getLogger(__name__)
MAX_REWARD = Decimal("100000")
UNDO_NAMESPACE = uuid.UUID("0d0e7e3a-5b1c-4f7e-9a61-3c2b8f4e1d20")


def reward_amount(raw: str | int | float) -> Decimal:
    """A reward's value as the vendor takes it: a positive decimal with at most two places."""
    try:
        value = Decimal(str(raw).strip())
    except InvalidOperation:
        value = Decimal("NaN")
    if not value.is_finite() or value <= 0 or value > MAX_REWARD or value != value.quantize(Decimal("0.01")):
        raise AgentError(
            422, "invalid_request", f"amount: a value above 0 with at most two decimals, up to {MAX_REWARD}"
        )
    return value.quantize(Decimal("0.01"))


class RewardService:
    def __init__(
        self,
        ops: OpService,
        ids: MemberIds,
        status: LoyaltyStatus,
        location: Callable[[], str],
        language: str,
    ) -> None:
        self.ops = ops
        self.store = ops.store
        self.ids = ids
        self.status = status
        self.location = location
        self.language = language

    def _error(self, status: int, code: str, detail: str = "") -> AgentError:
        text = message(code, self.language)
        return AgentError(status, code, f"{text} ({detail})" if detail else text)

    async def redeem(self, member_id: str, amount: str | int | float, op_id: str | None) -> dict[str, Any]:
        member_id = self.ids.member(member_id, self.language)
        value = reward_amount(amount)
        op_id = checked_op_id(op_id)
        request = {"amount": str(value)}

        async def create() -> dict[str, Any]:
            # A reward is a discount given now: with the vendor known unreachable it cannot be issued, and a
            # queued one would leave the cashier unable to say whether to give the discount.
            if self.status.is_offline:
                raise self._error(503, "loyalty_offline")
            location = self.location()
            if not location:
                raise self._error(409, "loyalty_not_configured", "[fabric] location")
            op, _ = await self.store.capture(
                op_id=op_id,
                kind=REWARD_REDEEM,
                target_id=op_id,
                contact_id=member_id,
                now=self.ops.clock(),
                request=request,
                payload={"profileId": member_id, "location": location, "amount": str(value)},
            )
            log.info("reward %s of %s captured", op_id, value)
            return await self.ops.answer(op)

        return await self.ops.once(op_id, REWARD_REDEEM, member_id, request, op_id, create)

    async def undo(self, op_id: str) -> dict[str, Any]:
        """Undo a reward (the sale it was for was voided): one undo op per reward, answered like any op."""
        reward = await self.store.get(op_id)
        if reward is None or reward.kind != REWARD_REDEEM:
            raise self._error(404, "not_found")
        code = reward.payload.get("redemptionCode")
        if reward.state != CONFIRMED or not code:
            raise self._error(409, "op_state", f"undo: the reward is {reward.state.lower()}, not redeemed")
        undo_id = str(uuid.uuid5(UNDO_NAMESPACE, op_id))

        async def create() -> dict[str, Any]:
            return await self.ops.answer(await self._capture_undo(reward, undo_id, str(code)))

        return await self.ops.once(undo_id, REWARD_REVERSE, reward.contact_id, None, op_id, create)

    async def _capture_undo(self, reward: Op, undo_id: str, code: str) -> Op:
        try:
            op, _ = await self.store.capture(
                op_id=undo_id,
                kind=REWARD_REVERSE,
                target_id=reward.op_id,
                contact_id=reward.contact_id,
                now=self.ops.clock(),
                payload={"profileId": reward.payload.get("profileId", reward.contact_id), "redemptionCode": code},
            )
        except TargetBusy as busy:
            raise self._error(409, "op_state", f"an undo is already under way (opId {busy.live.op_id})") from None
        log.info("undo %s of reward %s captured", undo_id, reward.op_id)
        return op
