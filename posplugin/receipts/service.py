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
from ..engage import EngageClient, EngageError
from ..engage.ids import checked_guid
from ..errors import AgentError
from ..member_cache import MemberCache
from ..members import MemberService, voucher_json
from ..texts import message
from .composer import ReceiptComposer
from .encoding import CodePageError
from .jobs import PrintJob, PrintQueue
from .layout import Block, ReceiptRenderer
from .templates import BALANCE, POINT_SHOP, TEST_PAGE, VOUCHER

log = logging.getLogger(__name__)
PRINTER_CODES = ("printer_offline", "printer_paper_out", "printer_cover_open", "printer_unknown")


class ReceiptService:
    def __init__(
        self,
        config: Config,
        printer: PrinterProtocol | None,
        members: MemberService,
        cache: MemberCache,
        client: EngageClient,
        clock: Callable[[], float],
    ) -> None:
        self.config = config
        self.language = config.agent.language
        self.members = members
        self.cache = cache
        self.client = client
        self.clock = clock
        pc = config.printer
        self.composer = ReceiptComposer(config, clock)
        self.queue = PrintQueue(printer) if printer is not None else None
        self.last: tuple[str, bytes] | None = None
        if config.receipt.logo_path and not config.receipt.logo_path.startswith("nv:"):
            if pc.backend == "serial" and pc.baudrate <= 9600:
                log.warning(
                    "a raster logo on a %d-baud serial printer adds seconds to every receipt; "
                    'store it in the printer (logo_path = "nv:1") instead',
                    pc.baudrate,
                )

    def reconfigure(self, config: Config, printer: PrinterProtocol | None) -> None:
        """New printer or receipt settings from the settings page. Jobs still waiting on the old printer are
        dropped with it: they were answered as failed already, and the cashier can reprint."""
        old = self.queue
        self.config = config
        self.composer = ReceiptComposer(config, self.clock)
        self.queue = PrintQueue(printer) if printer is not None else None
        if old is not None:
            old.stop()
        self.start()

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
        contact_id = checked_guid(contact_id, "contactId", self.language)
        voucher_id = checked_guid(voucher_id, "voucherId", self.language)
        view = await self.member_view(contact_id)
        voucher = next((v for v in view.get("vouchers", []) if v.get("id") == voucher_id), None)
        if voucher is None:
            voucher = await self._voucher_from_engage(contact_id, voucher_id)
        return await self._print("voucher", VOUCHER, self.composer.voucher_context(view, voucher))

    async def print_balance(self, contact_id: str) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId", self.language)
        view = await self.member_view(contact_id)
        return await self._print("balance", BALANCE, self.composer.balance_context(view))

    async def print_point_shop(self, context: Mapping[str, Any]) -> dict[str, Any]:
        return await self._print("point_shop", POINT_SHOP, {**self.composer.base_context(), **context})

    async def test_print(self) -> dict[str, Any]:
        return await self._print("test", TEST_PAGE, self.composer.test_context())

    async def reprint(self) -> dict[str, Any]:
        if self.last is None:
            raise self._error(409, "nothing_to_reprint")
        kind, data = self.last
        return await self._submit(kind, data)

    async def drawer_kick(self) -> dict[str, Any]:
        return await self._submit("drawer", self._renderer_or_error().drawer_kick(), remember=False)

    # ---- plumbing --------------------------------------------------------------------------------------

    async def member_view(self, contact_id: str) -> dict[str, Any]:
        cached = await self.cache.get(contact_id)
        if cached is not None:
            return cached.view
        return await self.members.member(contact_id)

    async def _voucher_from_engage(self, contact_id: str, voucher_id: str) -> dict[str, Any]:
        try:
            vouchers = await self.client.list_all_vouchers(contact_id, "all")
        except EngageError:
            raise self._error(404, "voucher_not_found") from None
        found = next((v for v in vouchers if v.id == voucher_id), None)
        if found is None:
            raise self._error(404, "voucher_not_found")
        return voucher_json(found)

    def _renderer_or_error(self) -> ReceiptRenderer:
        try:
            return self.composer.renderer
        except CodePageError as exc:
            raise AgentError(409, "printer_config", str(exc)) from None

    async def _print(self, kind: str, layout: tuple[Block, ...], context: Mapping[str, Any]) -> dict[str, Any]:
        return await self._submit(kind, self._renderer_or_error().render(layout, context))

    async def _submit(self, kind: str, data: bytes, remember: bool = True) -> dict[str, Any]:
        if self.queue is None:
            raise self._error(409, "printer_not_configured")
        if remember:
            self.last = (kind, data)
        job = self.queue.submit(kind, data)
        wait = self.config.printer.timeout + 1.0
        done = await asyncio.get_running_loop().run_in_executor(None, job.done.wait, wait)
        if done and job.printed:
            return {"printed": True, "bytes": len(data), "jobId": job.id}
        raise self._printer_error(job, waiting=not done)

    def _printer_error(self, job: PrintJob, waiting: bool) -> AgentError:
        status = job.last_status if job.last_status not in PRINTABLE else "unknown"
        code = f"printer_{status}" if f"printer_{status}" in PRINTER_CODES else "printer_offline"
        error = self._error(503, code)
        if waiting:
            error.message += " " + message("printer_will_print", self.language)
        return error

    def _error(self, status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, self.language))
