"""A hypothesis stateful test of the redemption state machine: the real store and executors against an
in-memory Engage, with lost answers, failures before commit, crashes mid-send and other-channel redemptions.

Invariants: Engage never redeems a voucher twice for us; an op is CONFIRMED only if Engage holds our
redemption; CONFLICT only when another channel redeemed it; never REJECTED once the POS was told queued;
and after healing, every op ends final with the right answer.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from posplugin.database import Database
from posplugin.events import EventBus
from posplugin.loyalty.kinds import VOUCHER_REDEEM
from posplugin.loyalty.status import LoyaltyStatus
from posplugin.outbox.model import CONFIRMED, CONFLICT, LIVE_STATES, REJECTED, SENDING, UNKNOWN, Op
from posplugin.outbox.store import Backoff, OutboxStore, TargetBusy
from posplugin.outbox.worker import OutboxWorker
from posplugin.vendors.engage import EngageClient
from posplugin.vendors.engage.executors.vouchers import VoucherRedeem
from tests.outbox.fake_engage import CONTACT, FakeEngage

VOUCHERS = [f"00000000-0000-4000-8000-00000000000{i}" for i in range(4)]
BEHAVIOURS = ["ok", "commit_lost", "fail_before", "refuse_connect", "reset_before"]


class RedemptionMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.now = 1_800_000_000.0
        self.tmp = tempfile.TemporaryDirectory()
        self.db = Database(Path(self.tmp.name) / "db.sqlite3")
        self.db.open()
        self.engage = FakeEngage(clock=lambda: self.now)
        for voucher in VOUCHERS:
            self.engage.add(voucher)
        self.store = OutboxStore(self.db, max_attempts=1000, park_after_seconds=10**9, backoff=Backoff(1, 2))
        self.ops: dict[str, str] = {}  # op id → voucher
        self.counter = 0

    def teardown(self) -> None:
        self.db.close()
        self.tmp.cleanup()

    def run(self, coro_factory: Any) -> Any:
        async def main() -> Any:
            client = EngageClient("https://fake", "k", transport=self.engage.transport(), clock=lambda: self.now)
            status = LoyaltyStatus(3, clock=lambda: self.now)

            async def claimed(op: Op) -> bool:
                last = await self.store.last_confirmed(op.target_id)
                return last is not None and last.op_id != op.op_id

            executor = VoucherRedeem(client, status, lambda: self.now, claimed)
            worker = OutboxWorker(
                self.store,
                {VOUCHER_REDEEM: executor},
                status,
                EventBus(),
                lambda: self.now,
                rate=1000,
                server_offset=lambda: client.server_offset,
            )
            try:
                return await coro_factory(worker)
            finally:
                await client.aclose()

        return asyncio.run(main())

    def op(self, op_id: str) -> Op:
        op = self.run(lambda w: self.store.get(op_id))
        assert op is not None
        return op

    # ---- rules -----------------------------------------------------------------------------------------

    @rule(voucher=st.sampled_from(VOUCHERS), queued=st.booleans())
    def capture(self, voucher: str, queued: bool) -> None:
        self.counter += 1
        op_id = f"op-{self.counter}"
        try:
            self.run(
                lambda w: self.store.capture(
                    op_id=op_id,
                    kind=VOUCHER_REDEEM,
                    target_id=voucher,
                    contact_id=CONTACT,
                    now=self.now,
                    reported_queued=queued,
                )
            )
        except TargetBusy:
            return
        self.ops[op_id] = voucher

    @precondition(lambda self: bool(self.ops))
    @rule(data=st.data(), behaviour=st.sampled_from(BEHAVIOURS), gets_fail=st.booleans())
    def process(self, data: Any, behaviour: str, gets_fail: bool) -> None:
        op_id = data.draw(st.sampled_from(sorted(self.ops)))
        self.engage.next_post, self.engage.gets_fail = behaviour, gets_fail
        self.now += 3  # past any backoff
        self.run(lambda w: w.process(op_id))
        self.engage.next_post, self.engage.gets_fail = "ok", False

    @precondition(lambda self: bool(self.ops))
    @rule(data=st.data(), commit=st.booleans())
    def crash_while_sending(self, data: Any, commit: bool) -> None:
        """The agent dies after the attempt row was committed, with or without Engage having committed."""
        op_id = data.draw(st.sampled_from(sorted(self.ops)))
        begun = self.run(lambda w: self.store.begin_attempt(op_id, self.now))
        if begun is None:
            return
        voucher = self.engage.vouchers[self.ops[op_id]]
        if commit and voucher.redeemed_at is None:
            voucher.redeemed_at, voucher.by = self.now, "us"
            self.engage.commits[voucher.id] = self.engage.commits.get(voucher.id, 0) + 1
        assert self.op(op_id).state == SENDING
        self.run(lambda w: self.store.recover(self.now))
        assert self.op(op_id).state == UNKNOWN

    @rule(voucher=st.sampled_from(VOUCHERS))
    def other_channel_redeems(self, voucher: str) -> None:
        # Well clear of any attempt of ours on both sides: a redemption stamped *during* one of our unanswered
        # attempts is indistinguishable from ours without an idempotency key (README, "Redemption").
        self.now += 60
        self.engage.redeem_elsewhere(voucher)
        self.now += 60

    # ---- invariants ------------------------------------------------------------------------------------

    @invariant()
    def engage_never_redeems_twice_for_us(self) -> None:
        assert all(count <= 1 for count in self.engage.commits.values())

    def all_ops(self) -> dict[str, Op]:
        def read(conn: Any) -> dict[str, Op]:
            return {row["op_id"]: Op.from_row(row) for row in conn.execute("SELECT * FROM ops")}

        return self.db.run_sync(read)

    @invariant()
    def final_states_tell_the_truth(self) -> None:
        ops = self.all_ops()
        for voucher_id in VOUCHERS:
            confirmed = [o for o, v in self.ops.items() if v == voucher_id and ops[o].state == CONFIRMED]
            assert len(confirmed) <= 1, f"two ops claim one redemption of {voucher_id}: {confirmed}"
        for op_id, voucher_id in self.ops.items():
            op = ops[op_id]
            voucher = self.engage.vouchers[voucher_id]
            if op.state == CONFIRMED:
                assert voucher.by == "us", (op, voucher)
            if op.state == CONFLICT:
                someone_else = voucher.by == "other" or any(
                    ops[o].state == CONFIRMED for o, v in self.ops.items() if v == voucher_id and o != op_id
                )
                assert someone_else, (op, voucher)
            if op.state == REJECTED:
                assert not op.reported_queued
            assert op.state != SENDING

    def heal_and_check(self) -> None:
        """Network healthy: every live op must settle, and settle right."""
        for _ in range(6):
            self.now += 3
            for op_id in list(self.ops):
                self.run(lambda w, op_id=op_id: w.process(op_id))
        for op_id, voucher_id in self.ops.items():
            op = self.op(op_id)
            assert op.state not in LIVE_STATES, op
            voucher = self.engage.vouchers[voucher_id]
            if voucher.by == "us" and op.state != CONFIRMED:
                # Ours was redeemed; another op on the same voucher that came later may be refused, but the
                # op that redeemed it must be confirmed.
                assert any(self.op(o).state == CONFIRMED for o, v in self.ops.items() if v == voucher_id)


TestRedemptionMachine = RedemptionMachine.TestCase
TestRedemptionMachine.settings = settings(max_examples=150, stateful_step_count=30, deadline=None)


def test_healing_settles_every_op() -> None:
    """A scripted run through the worst cases, then heal: nothing stays live, each answer is right."""
    machine = RedemptionMachine()
    try:
        machine.capture(VOUCHERS[0], queued=False)
        machine.capture(VOUCHERS[1], queued=True)
        machine.capture(VOUCHERS[2], queued=True)
        machine.engage.next_post = "commit_lost"
        machine.engage.gets_fail = True
        machine.run(lambda w: w.process("op-1"))
        assert machine.op("op-1").state == UNKNOWN
        machine.engage.gets_fail = False
        machine.engage.next_post = "fail_before"
        machine.run(lambda w: w.process("op-2"))
        machine.other_channel_redeems(VOUCHERS[2])
        machine.heal_and_check()
        assert machine.op("op-1").state == CONFIRMED
        assert machine.op("op-2").state == CONFIRMED
        assert (machine.op("op-3").state, machine.op("op-3").reason) == (CONFLICT, "already_redeemed")
        assert machine.engage.commits == {VOUCHERS[0]: 1, VOUCHERS[1]: 1}
    finally:
        machine.teardown()
