"""Drives outbox rows to a final state: in order, at most ``concurrency`` at once, under a request-rate cap.

One ``process`` call per op at a time (a registry of in-flight tasks): the cashier path and the background loop
share it, so an op is never sent twice concurrently, and a request the cashier stopped waiting for keeps running.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import random
import sqlite3
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

from ..events import EventBus
from ..loyalty.status import LoyaltyStatus
from .model import CAPTURED, UNKNOWN, Attempt, NotSent, Op, Outcome, Refused, Unknown
from .pacing import Pacer, PacerGate
from .pacing import till_rate as till_rate
from .store import OutboxStore

log = logging.getLogger(__name__)
IDLE_POLL = 1.0
WRITE_RETRY_FIRST, WRITE_RETRY_MAX = 0.05, 5.0  # seconds between attempts to record an answer


class Executor(Protocol):
    async def send(self, op: Op, attempts: Sequence[Attempt]) -> Outcome: ...
    async def reconcile(self, op: Op, attempts: Sequence[Attempt]) -> Outcome: ...


class OutboxWorker:
    def __init__(
        self,
        store: OutboxStore,
        executors: dict[str, Executor],
        status: LoyaltyStatus,
        events: EventBus,
        clock: Callable[[], float],
        *,
        concurrency: int = 4,
        rate: float = 10.0,
        server_offset: Callable[[], float | None] = lambda: None,
        on_final: Callable[[Op], None] | None = None,
        describe: Callable[[Op], dict[str, Any]] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        limiter: PacerGate | None = None,
    ) -> None:
        self.store = store
        self.executors = executors
        self.status = status
        self.events = events
        self.clock = clock
        self.concurrency = concurrency
        # Pacing is on the monotonic clock: a wall-clock step must not hold a request for the size of the step
        # (a fleet's turns on the wall clock, ``till_gate``, come on top and are built by the caller). Its
        # jitter comes from this till's own random source (by default seeded from the OS, so no two tills of a
        # fleet draw the same), never the global one.
        self.limiter = limiter or PacerGate(Pacer(rate, rng or random.Random()), monotonic)  # noqa: S311
        self.server_offset = server_offset
        self.on_final = on_final
        # What an `op` event carries: the composition root passes the POS's view of an op (the outbox knows none).
        self.describe = describe or _row_view
        self._inflight: dict[str, asyncio.Task[Op]] = {}
        self._wake = asyncio.Event()

    # ---- entry points ----------------------------------------------------------------------------------

    def kick(self, op_id: str, paced: bool = False, *, probing: bool = False) -> asyncio.Task[Op]:
        """Process an op now (or join the processing already under way). The cashier's own request is not paced;
        the background drain is. ``probing``: the op goes out as the probe, in the turn the probe took."""
        task = self._inflight.get(op_id)
        if task is None or task.done():
            task = asyncio.create_task(self._guarded(op_id, paced, probing), name=f"op-{op_id}")
            self._inflight[op_id] = task
            task.add_done_callback(functools.partial(self._done, op_id))
        return task

    def wake(self) -> None:
        self._wake.set()

    async def probe(self, fallback: Callable[[], Awaitable[float]]) -> float | None:
        """One probe of the loyalty system, in a paced turn like the drain's: a fleet's probes share its budget.

        Offline, the oldest due op goes out as the probe, so the first turn after an outage already carries
        work (a cheap GET first would cost every till of a fleet one turn); its answer tells the status, and a
        refused connection takes the attempt back (``withdraw_attempt``). Otherwise ``fallback`` (a cheap GET)
        is the probe. None: the op's answer was the probe's."""
        await self.limiter.acquire()
        if self.status.is_offline:
            head = await self.store.due(1, set(self._inflight))
            if head and head[0].state == CAPTURED:
                await asyncio.shield(self.kick(head[0].op_id, paced=True, probing=True))
                return None
        return await fallback()

    @property
    def inflight(self) -> int:
        return len(self._inflight)

    async def run_forever(self) -> None:
        while True:
            try:
                await self._tick()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug or a database hiccup must not stop the queue for good
                log.exception("outbox worker tick failed")
            sleep = await self._sleep_for()
            try:
                # Not wait_for: on Python 3.11 it swallows a cancel that arrives as the wake does, and the
                # loop would outlive the agent's shutdown.
                async with asyncio.timeout(sleep):
                    await self._wake.wait()
            except TimeoutError:
                pass
            self._wake.clear()

    async def drain_in_flight(self) -> None:
        """Stop: let requests on the wire finish (they may have redeemed something) rather than cancel them."""
        if self._inflight:
            await asyncio.wait(list(self._inflight.values()), timeout=10)

    # ---- internals -------------------------------------------------------------------------------------

    async def _tick(self) -> None:
        if self.status.is_offline:
            return  # the probe brings Engage back; sending now would only fail
        free = self.concurrency - len(self._inflight)
        if free <= 0:
            return
        for op in await self.store.due(free, set(self._inflight)):
            self.kick(op.op_id, paced=True)

    async def _sleep_for(self) -> float:
        if self.status.is_offline:
            return IDLE_POLL  # nothing can go out; coming back online wakes the loop
        due_in = await self.store.next_due_in()
        if due_in is None or (due_in <= 0 and self._inflight):
            # What is due is being processed (waiting for its paced turn, maybe minutes at a fleet's share):
            # polling would find nothing new, and an op that finishes wakes the loop.
            return IDLE_POLL
        return min(IDLE_POLL, max(0.02, due_in))

    def _done(self, op_id: str, task: asyncio.Task[Op]) -> None:
        if self._inflight.get(op_id) is task:
            del self._inflight[op_id]
        self._wake.set()

    async def _guarded(self, op_id: str, paced: bool, probing: bool = False) -> Op:
        try:
            return await self.process(op_id, paced, probing=probing)
        except Exception:
            log.exception("processing op failed; it stays queued")
            op = await self.store.get(op_id)
            if op is None:
                raise
            return op

    async def process(self, op_id: str, paced: bool = False, *, probing: bool = False) -> Op:
        """Reconcile if UNKNOWN, send once if CAPTURED and due, reconcile at once if that send went unanswered.
        ``probing``: the send is the probe's, in the turn it already took."""
        op = await self._require(op_id)
        if op.state == UNKNOWN:
            op = await self._reconcile(op, paced)
            probing = False
        if op.state == CAPTURED and self.store.is_due(op):
            op = await self._send(op, paced, probing)
            if op.state == UNKNOWN:
                op = await self._reconcile(op, paced)
        return op

    async def _require(self, op_id: str) -> Op:
        op = await self.store.get(op_id)
        if op is None:
            raise KeyError(op_id)
        return op

    async def _send(self, op: Op, paced: bool, probing: bool = False) -> Op:
        if paced and not probing:
            # Before the attempt begins: the attempt's window (which decides whose redemption a later 409 is)
            # must start when the request can go out, not a pacing interval earlier.
            await self.limiter.acquire()
        begun = await self.store.begin_attempt(op.op_id, self.clock())  # committed before anything goes out
        if begun is None:
            return await self._require(op.op_id)
        op, number = begun
        executor = self.executors[op.kind]
        outcome = await executor.send(op, await self.store.attempts(op.op_id))
        status = outcome.http_status if isinstance(outcome, Refused | Unknown | NotSent) else None
        if isinstance(outcome, NotSent) and outcome.why == "rate_limited":
            self.limiter.rate_limited(outcome.retry_after or 1.0)
        else:
            self.limiter.succeeded()
        if paced and isinstance(outcome, NotSent) and outcome.unreached:
            # A background send the vendor never saw (down, or the line cut): the op keeps its attempts and
            # stays due, so a long outage neither parks it nor leaves it in a growing backoff when the vendor
            # comes back. The pacing and, offline, the probe's interval space its tries.
            kept = await self._record(
                op.op_id, outcome, lambda: self.store.withdraw_attempt(op.op_id, number, self.clock())
            )
            if kept.state != CAPTURED:
                self._publish(kept)  # parked: too old
            return kept
        updated = await self._record(
            op.op_id,
            outcome,
            lambda: self.store.apply(
                op.op_id, outcome, self.clock(), attempt=number, server_offset=self.server_offset(), http_status=status
            ),
        )
        self._publish(updated)
        return updated

    async def _reconcile(self, op: Op, paced: bool) -> Op:
        if paced:
            await self.limiter.acquire()
        outcome = await self.executors[op.kind].reconcile(op, await self.store.attempts(op.op_id))
        updated = await self._record(op.op_id, outcome, lambda: self.store.apply(op.op_id, outcome, self.clock()))
        self._publish(updated)
        return updated

    async def _record(self, op_id: str, outcome: Outcome, write: Callable[[], Awaitable[Op]]) -> Op:
        """Write what Engage answered, however long the database refuses ("database is locked", disk full):
        the answer exists only in memory until then. Meanwhile the op shows SENDING, and a person's Retry or
        Park acts on it (the store treats it as unknown); a stop leaves it to start-up recovery."""
        delay = WRITE_RETRY_FIRST
        while True:
            try:
                return await write()
            except (sqlite3.Error, OSError) as exc:
                log.error("op %s: could not record %s (%s); retrying in %.1f s", op_id, outcome, exc, delay)
                await asyncio.sleep(delay)
                delay = min(WRITE_RETRY_MAX, delay * 2)

    def _publish(self, op: Op) -> None:
        self.events.publish("op", self.describe(op))
        if not op.is_live:
            log.info("op %s %s: %s %s", op.op_id, op.kind, op.state, op.reason or "")
            if self.on_final is not None:
                self.on_final(op)


def _row_view(op: Op) -> dict[str, Any]:
    return {"opId": op.op_id, "kind": op.kind, "state": op.state.lower()}
