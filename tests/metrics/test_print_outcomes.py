"""How each receipt ended, as the receipt service tells the metrics: printed, expired or refused."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest

from drivers.printer import OFFLINE, CapturePrinter
from posplugin.config import Config
from posplugin.errors import AgentError
from posplugin.receipts.service import ReceiptService


class Told:
    def __init__(self) -> None:
        self.ends: list[tuple[str, str]] = []
        self.changed = threading.Condition()

    def __call__(self, kind: str, outcome: str) -> None:
        with self.changed:
            self.ends.append((kind, outcome))
            self.changed.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, str]]:
        with self.changed:
            assert self.changed.wait_for(lambda: len(self.ends) >= count, timeout=5), self.ends
            return list(self.ends)


def service_for(printer: CapturePrinter) -> tuple[ReceiptService, Told]:
    none: Any = None
    service = ReceiptService(Config(), printer, none, none, none, none, time.time)
    told = Told()
    service.on_job_end = told
    service.start()
    return service, told


def test_a_printed_receipt_is_told_once() -> None:
    service, told = service_for(CapturePrinter())
    try:
        assert asyncio.run(service._submit("balance", b"slip"))["printed"]
        assert told.wait_for(1) == [("balance", "printed")]
    finally:
        service.stop()


def test_a_printer_that_says_it_is_off_refuses_before_anything_is_queued() -> None:
    printer = CapturePrinter()
    printer.current_status = OFFLINE
    service, told = service_for(printer)
    try:
        with pytest.raises(AgentError):
            asyncio.run(service._submit("voucher", b"slip"))
        assert told.wait_for(1) == [("voucher", "refused")]
    finally:
        service.stop()


def test_a_job_past_its_time_to_live_and_one_dropped_by_switching_printing_off_expire() -> None:
    printer = CapturePrinter()
    printer.current_status = OFFLINE
    service, told = service_for(printer)
    assert service.queue is not None
    old = service.queue.submit("voucher", b"too late")
    old.deadline = 0.0  # its time-to-live has passed
    assert told.wait_for(1) == [("voucher", "expired")]
    waiting = service.queue.submit("balance", b"waiting")
    service.reconfigure(Config(), None)
    assert waiting.done.wait(2)
    assert told.wait_for(2) == [("voucher", "expired"), ("balance", "expired")]
