"""Print jobs survive a printer setting change, and none prints long after the cashier asked."""

from __future__ import annotations

import time
from typing import Any

from drivers.printer import OFFLINE, CapturePrinter
from posplugin.config import Config
from posplugin.receipts import jobs
from posplugin.receipts.jobs import PrintQueue
from posplugin.receipts.service import ReceiptService


def test_unprinted_jobs_move_to_the_new_printer_on_reconfigure() -> None:
    old, new = CapturePrinter(), CapturePrinter()
    old.current_status = OFFLINE  # the cashier asked; the printer was off; the manager fixes the setting
    none: Any = None
    service = ReceiptService(Config(), old, none, none, none, none, time.time)
    service.start()
    try:
        assert service.queue is not None
        waiting = [service.queue.submit("voucher", b"first"), service.queue.submit("balance", b"second")]
        time.sleep(0.1)  # the worker is retrying the first job on the old printer
        service.reconfigure(Config(), new)
        assert all(job.done.wait(5) and job.printed for job in waiting)  # the same jobs: their waiters hear it
        assert new.jobs == [b"first", b"second"] and old.jobs == []
    finally:
        service.stop()


def test_stop_hands_back_the_job_in_progress_and_the_waiting_ones() -> None:
    printer = CapturePrinter()
    printer.current_status = OFFLINE
    queue = PrintQueue(printer, retry_interval=0.02)
    queue.start()
    submitted = [queue.submit("voucher", f"r{n}".encode()) for n in range(3)]
    time.sleep(0.1)
    unfinished = queue.stop()
    assert unfinished == submitted and not any(job.done.is_set() for job in unfinished)


def test_switching_printing_off_ends_waiting_jobs_as_dropped() -> None:
    printer = CapturePrinter()
    printer.current_status = OFFLINE
    none: Any = None
    service = ReceiptService(Config(), printer, none, none, none, none, time.time)
    service.start()
    assert service.queue is not None
    job = service.queue.submit("voucher", b"x")
    service.reconfigure(Config(), None)
    assert job.done.wait(2) and job.dropped and not job.printed


def test_a_receipt_lives_minutes_not_an_hour() -> None:
    assert jobs.DEFAULT_TTL <= 300


def test_only_a_job_whose_waiter_gave_up_is_reported_later() -> None:
    import asyncio

    printer = CapturePrinter()
    none: Any = None
    service = ReceiptService(Config(), printer, none, none, none, none, time.time)
    told: list[dict[str, Any]] = []
    service.notify = told.append
    service.start()
    try:
        for n in range(20):  # printed while its waiter waits: answered once, by the call itself
            assert asyncio.run(service._submit("balance", f"r{n}".encode(), contact_id="c"))["printed"]
        assert told == []
    finally:
        service.stop()
