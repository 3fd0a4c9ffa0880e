"""The fabric executors against the simulator: exactly one earn and one reward across lost answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, TypeVar

import pytest

from posplugin.outbox.model import CAPTURED, CONFIRMED, CONFLICT, REJECTED, UNKNOWN, Attempt, Confirmed, Resend
from posplugin.vendors.fabric import models
from posplugin.vendors.fabric.client import FabricClient
from posplugin.vendors.fabric.earn_rules import earn_payload
from posplugin.vendors.fabric.executors import RewardRedeem, RewardReverse, SaleEarn
from posplugin.vendors.fabric.simulator import FabricSimulator
from posplugin.vendors.faults import FaultRule

from ..sale_factory import example_sale, sale
from .conftest import ANNA, SARA, STORE, client_for
from .driver import Breaker, MemoryOutbox, describe, make_op
from .test_earn_rules import WHEN, to_sale

T = TypeVar("T")


def run(sim: FabricSimulator, body: Callable[[FabricClient, MemoryOutbox, Breaker], Awaitable[T]]) -> T:
    async def main() -> T:
        async with client_for(sim) as client:
            return await body(client, MemoryOutbox(), Breaker())

    return asyncio.run(main())


def earn_op(receipt: str, original: str | None = None) -> Any:
    raw = example_sale(receipt)
    if original:
        raw = sale(receipt, [{**line, "type": "return"} for line in raw["lines"]])
    payload = earn_payload(to_sale(raw), profile_id=ANNA, location=STORE, activity=WHEN, original_receipt_id=original)
    return make_op(f"op-{receipt}", "sale_earn", {"earn": payload}, ANNA)


def reward_op(op_id: str, amount: str = "50.00", profile: str = ANNA) -> Any:
    return make_op(op_id, "reward_redeem", {"profileId": profile, "location": STORE, "amount": amount}, profile)


async def points(client: FabricClient, profile: str = ANNA) -> int:
    return (await client.balance(profile)).available


# ---- sale_earn ------------------------------------------------------------------------------------------


def test_earn_is_confirmed_once(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(earn_op("R-1"))
        op = await box.run(SaleEarn(c, breaker, time.time), "op-R-1")
        return op, box.log, await points(c)

    op, log, balance = run(fabric, body)
    assert op.state == CONFIRMED and log == ["confirmed:earned"]
    assert fabric.state.earn_commits == 1 and balance > 1200


def test_a_lost_earn_answer_is_resent_and_counted_once_by_the_duplicate_check(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", method="POST", path="/v2/earn$"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(earn_op("R-2"))
        op = await box.run(SaleEarn(c, breaker, time.time), "op-R-2")
        return op, box.log, breaker.failures, await points(c)

    op, log, failures, balance = run(fabric, body)
    assert op.state == CONFIRMED
    assert log == ["unknown:no_answer", "resend:duplicate_check", "confirmed:duplicate"]
    assert fabric.state.earn_commits == 1 and fabric.state.duplicate_earns == 1
    assert failures == ["FabricNoAnswer"]
    assert balance == 1200 + fabric.state.earns["R-2"]["points"]


def test_an_earn_while_fabric_is_offline_waits_and_then_goes_once(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(earn_op("R-3"))
        executor = SaleEarn(c, breaker, time.time)
        await c.tokens.token()
        fabric.set_offline(True)
        first = await box.step(executor, "op-R-3")
        fabric.set_offline(False)
        return first, await box.run(executor, "op-R-3"), box.log

    first, op, log = run(fabric, body)
    assert first == CAPTURED and log[0] == "not_sent:loyalty_unreachable"
    assert op.state == CONFIRMED and fabric.state.earn_commits == 1


def test_an_earn_fabric_refuses_is_rejected_with_its_rule(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        op = earn_op("R-4")
        op.payload["earn"]["netAmount"] += 5
        box.add(op)
        return await box.run(SaleEarn(c, breaker, time.time), op.op_id), breaker

    op, breaker = run(fabric, body)
    assert op.state == REJECTED and op.reason == "earn_net"
    assert breaker.failures == [] and fabric.state.earn_commits == 0


def test_a_return_reverses_the_earn_exactly_once(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", method="POST", path="/v2/earn/reverse"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        executor = SaleEarn(c, breaker, time.time)
        box.add(earn_op("R-5"))
        await box.run(executor, "op-R-5")
        box.add(earn_op("R-5-RET", original="R-5"))
        op = await box.run(executor, "op-R-5-RET")
        return op, box.log, await points(c)

    op, log, balance = run(fabric, body)
    assert op.state == CONFIRMED and log[-1] == "confirmed:duplicate"
    assert fabric.state.earns["R-5"]["reversedPoints"] == fabric.state.earns["R-5"]["points"]
    assert balance == 1200


# ---- reward_redeem --------------------------------------------------------------------------------------


def test_reward_is_issued_then_redeemed_and_its_code_kept(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w1"))
        op = await box.run(RewardRedeem(c, breaker, time.time, box), "w1")
        return op, await c.reward_history(ANNA), await points(c)

    op, history, balance = run(fabric, body)
    assert op.state == CONFIRMED
    assert [(r.redemption_code, r.status) for r in history] == [(op.payload["redemptionCode"], "Redeemed")]
    assert balance == 700


def test_a_lost_issue_answer_adopts_the_reward_from_the_history(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/reward/issue"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w2"))
        op = await box.run(RewardRedeem(c, breaker, time.time, box), "w2")
        return op, box.log, await c.reward_history(ANNA), await points(c)

    op, log, history, balance = run(fabric, body)
    assert log == ["unknown:issue_unanswered", "resend:adopted", "confirmed:redeemed"]
    assert op.state == CONFIRMED and fabric.state.issue_commits == 1
    assert [(r.redemption_code, r.status) for r in history] == [(op.payload["redemptionCode"], "Redeemed")]
    assert balance == 700


def test_a_lost_issue_with_an_unreadable_history_waits_and_never_issues_twice(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/reward/issue"))
    fabric.faults.add(FaultRule("error", method="GET", path="/v1/redeem$", times=2))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w3"))
        op = await box.run(RewardRedeem(c, breaker, time.time, box), "w3")
        return op, box.log

    op, log = run(fabric, body)
    assert log[:3] == ["unknown:issue_unanswered", "unknown:reconcile_failed", "unknown:reconcile_failed"]
    assert op.state == CONFIRMED and fabric.state.issue_commits == 1


def test_no_reward_in_the_history_after_a_lost_answer_is_issued_again(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_before", path="/reward/issue"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w4"))
        return await box.run(RewardRedeem(c, breaker, time.time, box), "w4"), box.log

    _op, log = run(fabric, body)
    assert log == ["unknown:issue_unanswered", "resend:not_issued", "confirmed:redeemed"]
    assert fabric.state.issue_commits == 1


def test_two_rewards_from_two_lost_answers_keep_one_and_cancel_the_other(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/reward/issue", times=2))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        op = reward_op("w5")
        box.add(op)
        executor = RewardRedeem(c, breaker, time.time, box)
        attempts: list[Attempt] = []
        for n in (1, 2):  # e.g. a crash between the sends kept the reconcile from running
            attempts.append(Attempt(n, time.time(), None, None, None))
            outcome = await executor.send(op, attempts)
            attempts[-1] = Attempt(n, attempts[-1].started_at, time.time(), f"unknown:{outcome}", None)
        settled = await executor.reconcile(box.ops["w5"], attempts)
        final = await executor.send(box.ops["w5"], attempts)
        return settled, final, sorted(fabric.state.reward_statuses(ANNA)), await points(c)

    settled, final, statuses, balance = run(fabric, body)
    assert settled == Resend("adopted") and final == Confirmed("redeemed")
    assert statuses == ["Cancelled", "Redeemed"] and balance == 700


def test_an_issue_after_a_lagging_history_cancels_the_earlier_reward(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/reward/issue"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w6"))
        executor = RewardRedeem(c, breaker, time.time, box)
        rows = box.attempts["w6"]
        rows.append(Attempt(1, time.time(), None, None, None))
        outcome = await executor.send(box.ops["w6"], rows)  # the reward is committed, its answer lost
        rows[-1] = Attempt(1, rows[-1].started_at, time.time(), describe(outcome), None)
        # The reconcile read a history that lagged behind and let the op be sent again.
        op = await box.run(executor, "w6")
        return op, sorted(fabric.state.reward_statuses(ANNA)), await points(c)

    op, statuses, balance = run(fabric, body)
    assert op.state == CONFIRMED and statuses == ["Cancelled", "Redeemed"] and balance == 700


def test_another_ops_reward_is_never_adopted(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        executor = RewardRedeem(c, breaker, time.time, box)
        other = await c.issue_reward(ANNA, STORE, Decimal("50.00"))  # op "a" issued, its redeem still pending
        box.add(reward_op("a"))
        await box.save("a", other.redemption_code)
        box.add(reward_op("b"))
        fabric.faults.add(FaultRule("reset_before", path="/reward/issue"))
        op = await box.run(executor, "b")
        return op, other.redemption_code

    op, other_code = run(fabric, body)
    assert op.state == CONFIRMED and op.payload["redemptionCode"] != other_code
    assert sorted(fabric.state.reward_statuses(ANNA)) == ["Active", "Redeemed"]


def test_too_few_points_is_rejected_and_issues_nothing(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w7", profile=SARA))
        return await box.run(RewardRedeem(c, breaker, time.time, box), "w7")

    op = run(fabric, body)
    assert op.state == REJECTED and op.reason == "insufficient_points"
    assert fabric.state.issue_commits == 0


def test_a_lost_redeem_answer_is_settled_from_the_reward_itself(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/member-reward"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w8"))
        return await box.run(RewardRedeem(c, breaker, time.time, box), "w8"), box.log

    op, log = run(fabric, body)
    assert log == ["unknown:redeem_unanswered", "confirmed:reconciled"]
    assert op.state == CONFIRMED and fabric.state.reward_statuses(ANNA) == ["Redeemed"]


def test_a_reward_cancelled_behind_our_back_is_a_conflict(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_before", path="/member-reward"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w9"))
        executor = RewardRedeem(c, breaker, time.time, box)
        await box.step(executor, "w9")  # issued, the redeem got no answer; the reward is still Active
        await c.cancel_reward(ANNA, box.ops["w9"].payload["redemptionCode"])
        return await box.run(executor, "w9")

    op = run(fabric, body)
    assert op.state == CONFLICT and op.reason == "reward_cancelled"


# ---- reward_reverse -------------------------------------------------------------------------------------


def reverse_op(op_id: str, code: str) -> Any:
    return make_op(op_id, "reward_reverse", {"profileId": ANNA, "redemptionCode": code}, ANNA)


def test_undo_cancels_before_redemption_and_reverses_after(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        executor = RewardReverse(c, breaker, time.time)
        active = await c.issue_reward(ANNA, STORE, Decimal("10.00"))
        redeemed = await c.issue_reward(ANNA, STORE, Decimal("20.00"))
        await c.redeem_reward(ANNA, STORE, redeemed.redemption_code)
        box.add(reverse_op("u1", active.redemption_code))
        box.add(reverse_op("u2", redeemed.redemption_code))
        await box.run(executor, "u1")
        await box.run(executor, "u2")
        return box.log, await points(c)

    log, balance = run(fabric, body)
    assert log == ["confirmed:cancelled", "confirmed:reversed"]
    assert sorted(fabric.state.reward_statuses(ANNA)) == ["Cancelled", "Reversed"] and balance == 1200


def test_a_lost_undo_answer_is_confirmed_from_the_history(fabric: FabricSimulator) -> None:
    fabric.faults.add(FaultRule("reset_after_commit", path="/v1/redeem/reverse"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        reward = await c.issue_reward(ANNA, STORE, Decimal("10.00"))
        await c.redeem_reward(ANNA, STORE, reward.redemption_code)
        box.add(reverse_op("u3", reward.redemption_code))
        op = await box.run(RewardReverse(c, breaker, time.time), "u3")
        return op, box.log

    op, log = run(fabric, body)
    assert op.state == CONFIRMED and log == ["unknown:no_answer", "confirmed:reconciled"]
    assert fabric.state.reward_statuses(ANNA) == ["Reversed"]


def test_undo_of_an_unknown_reward_is_rejected(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reverse_op("u4", "00000000-0000-0000-0000-000000000000"))
        return await box.run(RewardReverse(c, breaker, time.time), "u4")

    op = run(fabric, body)
    assert op.state == REJECTED and op.reason == "reward_not_found"


def test_a_history_without_creation_times_never_leads_to_a_second_issue(
    fabric: FabricSimulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(models, "REWARD_CREATED_FIELDS", ("issuedOnSomeOtherTenant",))
    fabric.faults.add(FaultRule("reset_after_commit", path="/reward/issue"))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        box.add(reward_op("w10"))
        return await box.run(RewardRedeem(c, breaker, time.time, box), "w10", passes=3), box.log

    op, log = run(fabric, body)
    assert op.state == UNKNOWN and log[1:] == ["unknown:reward_time_unknown"] * 3
    assert fabric.state.issue_commits == 1


def test_an_earn_outliving_its_token_is_neither_lost_nor_doubled(fabric: FabricSimulator) -> None:
    fabric.state.settings.token_ttl = 0.5
    fabric.faults.add(FaultRule("slow_commit", path="/v2/earn$", delay=0.8))

    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        executor = SaleEarn(c, breaker, time.time)
        box.add(earn_op("R-6"))
        box.add(earn_op("R-7"))
        first = await box.run(executor, "op-R-6")  # answered after its token expired
        second = await box.run(executor, "op-R-7")  # gets a fresh token before it goes
        return first, second, box.log, c.tokens.fetches

    first, second, log, fetches = run(fabric, body)
    assert (first.state, second.state) == (CONFIRMED, CONFIRMED) and log == ["confirmed:earned"] * 2
    assert fabric.state.earn_commits == 2 and fabric.state.duplicate_earns == 0 and fetches == 2


def test_an_earn_refused_with_401_is_sent_once_more_with_a_new_token(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        await c.tokens.token()
        fabric.state.revoke_tokens()
        box.add(earn_op("R-8"))
        return await box.run(SaleEarn(c, breaker, time.time), "op-R-8"), box.log

    op, log = run(fabric, body)
    assert op.state == CONFIRMED and log == ["confirmed:earned"] and fabric.state.earn_commits == 1


def test_a_reward_issue_refused_with_401_waits_for_the_next_attempt(fabric: FabricSimulator) -> None:
    async def body(c: FabricClient, box: MemoryOutbox, breaker: Breaker) -> Any:
        await c.tokens.token()
        fabric.state.revoke_tokens()
        box.add(reward_op("w11"))
        return await box.run(RewardRedeem(c, breaker, time.time, box), "w11"), box.log

    op, log = run(fabric, body)
    assert log == ["not_sent:loyalty_auth", "confirmed:redeemed"]
    assert op.state == CONFIRMED and fabric.state.issue_commits == 1
