"""What the print endpoints do: gather the facts, render the layout, queue the job and answer the cashier."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

from drivers.printer import PRINTABLE
from drivers.printer import Printer as PrinterProtocol

from ..config import Config
from ..errors import AgentError
from ..loyalty.errors import LoyaltyError
from ..loyalty.kinds import REWARD_REDEEM, REWARD_REVERSE, VOUCHER_REDEEM
from ..loyalty.ports import MemberIds, VoucherLists
from ..member_cache import MemberCache
from ..members import MemberService
from ..outbox.model import CONFIRMED
from ..outbox.store import OutboxStore
from ..texts import message
from .composer import ReceiptComposer
from .encoding import CodePageError
from .jobs import PrintJob, PrintQueue
from .layout import Block, ReceiptRenderer
from .templates import BALANCE, POINT_SHOP, PROMOTION, REWARD, TEST_PAGE, VOUCHER

log = logging.getLogger(__name__)
PRINTER_CODES = ("printer_offline", "printer_paper_out", "printer_cover_open", "printer_unknown")
# How long the cashier waits for the printer to say how it is before the job is queued regardless.
STATUS_CHECK_SECONDS = 1.0
NOT_READY = ("offline", "paper_out", "cover_open")
REPRINT_MEMORY = 50  # members whose last receipt can be printed again


class ReceiptService:
    def __init__(
        self,
        config: Config,
        printer: PrinterProtocol | None,
        members: MemberService,
        cache: MemberCache,
        vouchers: VoucherLists | None,
        ids: MemberIds,
        clock: Callable[[], float],
        outbox: OutboxStore | None = None,
    ) -> None:
        self.config = config
        self.outbox = outbox
        self.language = config.agent.language
        self.members = members
        self.cache = cache
        self.vouchers = vouchers
        self.ids = ids
        self.clock = clock
        pc = config.printer
        self.composer = ReceiptComposer(config, clock)
        self.queue = self._queue_for(printer)
        # Told (from the printer's thread) how a job ended that the cashier was told is still waiting: printed
        # after all, or dropped past its time-to-live. The agent turns it into a `print` event for the panel.
        self.notify: Callable[[dict[str, Any]], None] | None = None
        # Told how every job ended — (kind, "printed" | "expired" | "refused") — for the metrics; on the
        # printer's thread for the first two.
        self.on_job_end: Callable[[str, str], None] | None = None
        self._late: dict[int, str | None] = {}  # id(job) → the member it was printed for
        self._late_lock = threading.Lock()
        self.last: tuple[str, bytes] | None = None
        # The last receipt printed for each member, newest last: "Reprint" at the panel prints only the member
        # on screen's own slip, never the previous customer's.
        self._last_for: dict[str, tuple[str, bytes]] = {}
        if config.receipt.logo_path and not config.receipt.logo_path.startswith("nv:"):
            if pc.backend == "serial" and pc.baudrate <= 9600:
                log.warning(
                    "a raster logo on a %d-baud serial printer adds seconds to every receipt; "
                    'store it in the printer (logo_path = "nv:1") instead',
                    pc.baudrate,
                )

    def reconfigure(self, config: Config, printer: PrinterProtocol | None) -> None:
        """New printer or receipt settings from the settings page. Jobs still waiting on the old printer move to
        the new one, with their time-to-live: a slip a cashier asked for is not lost to a settings change."""
        old = self.queue
        self.config = config
        self.composer = ReceiptComposer(config, self.clock)
        self.queue = self._queue_for(printer)
        unfinished = old.stop() if old is not None else []
        if self.queue is not None:
            self.queue.adopt(unfinished)
        else:
            for job in unfinished:
                job.dropped = True
                job.done.set()
                self._job_ended(job.kind, "expired")
            if unfinished:
                log.warning("dropped %d receipt(s): printing was switched off", len(unfinished))
        self.start()

    def _queue_for(self, printer: PrinterProtocol | None) -> PrintQueue | None:
        if printer is None:
            return None
        queue = PrintQueue(printer)
        queue.on_finished = self._finished
        return queue

    def _job_ended(self, kind: str, outcome: str) -> None:
        if self.on_job_end is not None:
            self.on_job_end(kind, outcome)

    def _finished(self, job: PrintJob) -> None:
        self._job_ended(job.kind, "printed" if job.printed else "expired")
        with self._late_lock:
            if id(job) not in self._late:
                return  # its waiter had the answer
            contact_id = self._late.pop(id(job))
        if self.notify is not None:
            state = "printed" if job.printed else "expired"
            self.notify({"jobId": job.id, "kind": job.kind, "state": state, "contactId": contact_id})

    def _warm(self) -> None:
        try:
            _ = self.composer.renderer
        except CodePageError as exc:
            log.error("printing is not possible until the config is fixed: %s", exc)

    def start(self) -> None:
        threading.Thread(target=self._warm, name="receipts-warm-up", daemon=True).start()
        if self.queue is not None:
            self.queue.start()

    def stop(self) -> None:
        if self.queue is not None:
            self.queue.stop()

    def status(self) -> str:
        return self.queue.last_status if self.queue is not None else "not_configured"

    async def refresh_status(self) -> str:
        if self.queue is None:
            return "not_configured"
        return await asyncio.get_running_loop().run_in_executor(None, self.queue.refresh_status)

    # ---- receipts --------------------------------------------------------------------------------------

    async def print_voucher(self, contact_id: str, voucher_id: str) -> dict[str, Any]:
        contact_id = self.ids.member(contact_id, self.language)
        voucher_id = self.ids.voucher(voucher_id, self.language)
        view = await self.member_view(contact_id)
        voucher = next((v for v in view.get("vouchers", []) if v.get("id") == voucher_id), None)
        used = await self._redeemed_here(voucher_id)
        if voucher is None:
            voucher = await self._voucher_from_vendor(contact_id, voucher_id)
            used = used or bool(voucher.get("redeemed"))
        context = self.composer.voucher_context(view, voucher, used=used)
        return await self._print("voucher", VOUCHER, context, contact_id)

    async def _redeemed_here(self, voucher_id: str) -> bool:
        """Redeemed, or a redemption queued or on the wire: the outbox knows before any member view does. A
        reactivation still on its way leaves the voucher redeemed until Engage confirms it."""
        if self.outbox is None:
            return False
        if any(op.is_live for op in await self.outbox.ops_for_target(voucher_id)):
            return True
        confirmed = await self.outbox.last_confirmed(voucher_id)
        return confirmed is not None and confirmed.kind == VOUCHER_REDEEM

    async def print_balance(self, contact_id: str) -> dict[str, Any]:
        contact_id = self.ids.member(contact_id, self.language)
        view = await self.member_view(contact_id)
        context = self.composer.balance_context(view, voucher_list=self.vouchers is not None)
        return await self._print("balance", BALANCE, context, contact_id)

    async def print_reward(self, contact_id: str, op_id: str) -> dict[str, Any]:
        """The slip of a reward redeemed at the till (``reward_redeem`` op): its value and redemption code."""
        contact_id = self.ids.member(contact_id, self.language)
        outbox = self.outbox
        reward = await outbox.get(op_id) if outbox is not None else None
        if outbox is None or reward is None or reward.kind != REWARD_REDEEM or reward.contact_id != contact_id:
            raise self._error(404, "not_found")
        code = reward.payload.get("redemptionCode")
        if reward.state != CONFIRMED or not code:
            # Queued or refused: there is no reward to hand over yet (or ever).
            raise AgentError(409, "not_completed", message("reward_not_redeemed", self.language))
        undos = [op for op in await outbox.ops_for_target(op_id) if op.kind == REWARD_REVERSE]
        undone = any(op.is_live or op.state == CONFIRMED for op in undos)
        view = await self.member_view(contact_id)
        amount = str(reward.payload.get("amount") or "0")
        context = self.composer.reward_context(view, amount, str(code), reward.updated_at, undone=undone)
        return await self._print("reward", REWARD, context, contact_id)

    async def print_point_shop(self, context: Mapping[str, Any], contact_id: str | None = None) -> dict[str, Any]:
        return await self._print("point_shop", POINT_SHOP, {**self.composer.base_context(), **context}, contact_id)

    async def print_promotion(self, context: Mapping[str, Any], contact_id: str | None = None) -> dict[str, Any]:
        return await self._print("promotion", PROMOTION, context, contact_id)

    async def test_print(self) -> dict[str, Any]:
        return await self._print("test", TEST_PAGE, self.composer.test_context())

    async def reprint(self, contact_id: str | None = None) -> dict[str, Any]:
        """The last receipt; with ``contact_id``, the last one printed for that member (or a refusal)."""
        last = self.last if contact_id is None else self._last_for.get(contact_id)
        if last is None:
            raise self._error(409, "nothing_to_reprint" if contact_id is None else "nothing_to_reprint_member")
        kind, data = last
        return await self._submit(kind, data, contact_id=contact_id)

    async def drawer_kick(self) -> dict[str, Any]:
        return await self._submit("drawer", self._renderer_or_error().drawer_kick(), remember=False)

    # ---- plumbing --------------------------------------------------------------------------------------

    async def member_view(self, contact_id: str) -> dict[str, Any]:
        cached = await self.cache.get(contact_id)
        if cached is not None:
            return cached.view
        return await self.members.member(contact_id)

    async def _voucher_from_vendor(self, contact_id: str, voucher_id: str) -> dict[str, Any]:
        if self.vouchers is None:
            raise self._error(404, "voucher_not_found")
        try:
            vouchers = await self.vouchers.vouchers(contact_id, "all")
        except LoyaltyError:
            raise self._error(404, "voucher_not_found") from None
        found = next((v for v in vouchers if v.get("id") == voucher_id), None)
        if found is None:
            raise self._error(404, "voucher_not_found")
        return dict(found)

    def _renderer_or_error(self) -> ReceiptRenderer:
        try:
            return self.composer.renderer
        except CodePageError as exc:
            raise AgentError(409, "printer_config", str(exc)) from None

    async def _print(
        self, kind: str, layout: tuple[Block, ...], context: Mapping[str, Any], contact_id: str | None = None
    ) -> dict[str, Any]:
        return await self._submit(kind, self._renderer_or_error().render(layout, context), contact_id=contact_id)

    async def _submit(
        self, kind: str, data: bytes, remember: bool = True, contact_id: str | None = None
    ) -> dict[str, Any]:
        queue = self.queue
        if queue is None:
            raise self._error(409, "printer_not_configured")
        if remember:
            self.last = (kind, data)
            if contact_id is not None:
                self._last_for.pop(contact_id, None)
                self._last_for[contact_id] = (kind, data)
                while len(self._last_for) > REPRINT_MEMORY:
                    del self._last_for[next(iter(self._last_for))]
        try:
            await self._refuse_if_not_ready(queue)
        except AgentError:
            self._job_ended(kind, "refused")
            raise
        job = queue.submit(kind, data)
        wait = self.config.printer.timeout + 1.0
        done = await asyncio.get_running_loop().run_in_executor(None, job.done.wait, wait)
        if not done:
            # The cashier hears "still waiting": from here on, how the job ends is told by `notify`. Under the
            # lock, a job that ended meanwhile is answered here and nowhere else.
            with self._late_lock:
                done = job.done.is_set()
                if not done:
                    self._late[id(job)] = contact_id  # by object: job ids restart with a new printer's queue
        if done and job.printed:
            return {"printed": True, "bytes": len(data), "jobId": job.id}
        raise self._printer_error(job, waiting=not done)

    async def _refuse_if_not_ready(self, queue: PrintQueue) -> None:
        """Ask the printer first: a printer that says it is off, out of paper or open answers the cashier now,
        and nothing is queued to come out later. A printer too slow to say passes (the job's TTL still holds)."""
        loop = asyncio.get_running_loop()
        try:
            status = await asyncio.wait_for(
                asyncio.shield(loop.run_in_executor(None, queue.refresh_status)), STATUS_CHECK_SECONDS
            )
        except TimeoutError:
            return
        if status in NOT_READY:
            raise self._error(503, f"printer_{status}")

    def _printer_error(self, job: PrintJob, waiting: bool) -> AgentError:
        status = job.last_status if job.last_status not in PRINTABLE else "unknown"
        code = f"printer_{status}" if f"printer_{status}" in PRINTER_CODES else "printer_offline"
        error = self._error(503, code)
        if waiting:
            error.message += " " + message("printer_will_print", self.language)
        return error

    def _error(self, status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, self.language))
