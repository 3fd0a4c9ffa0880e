"""Printer backends over real transports, status decoding, and the print queue."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import serial
from hypothesis import given
from hypothesis import strategies as st

from drivers.printer import (
    COVER_OPEN,
    OFFLINE,
    PAPER_NEAR_END,
    PAPER_OUT,
    READY,
    UNKNOWN,
    CapturePrinter,
    FilePrinter,
    NetworkPrinter,
    PrinterError,
    SerialPrinter,
    parse_status,
)
from posplugin.receipts.jobs import PrintQueue
from tests.receipts.fake_printers import PtyPrinter, TcpPrinter


@pytest.mark.parametrize(
    ("answers", "status"),
    [
        ((0x12, 0x12, 0x12), READY),
        ((0x1A, 0x12, 0x12), OFFLINE),
        ((0x1A, 0x16, 0x12), COVER_OPEN),
        ((0x12, 0x32, 0x12), PAPER_OUT),
        ((0x12, 0x12, 0x72), PAPER_OUT),
        ((0x12, 0x12, 0x1E), PAPER_NEAR_END),
        ((None, None, None), OFFLINE),
        ((0x10, 0x12, 0x12), UNKNOWN),  # not a DLE EOT answer (e.g. an echo)
    ],
)
def test_status_bytes(answers: tuple[int | None, int | None, int | None], status: str) -> None:
    assert parse_status(*answers) == status


@given(st.none() | st.integers(0, 255), st.none() | st.integers(0, 255), st.none() | st.integers(0, 255))
def test_any_status_bytes_give_a_known_word(a: int | None, b: int | None, c: int | None) -> None:
    assert parse_status(a, b, c) in (READY, OFFLINE, COVER_OPEN, PAPER_OUT, PAPER_NEAR_END, UNKNOWN)


def test_serial_printer_on_loop_url_writes_the_receipt_in_one_piece() -> None:
    printer = SerialPrinter("loop://", baudrate=9600, timeout=1)
    printer.write(b"\x1b@hello\n")
    port = printer._open()
    assert port.read(64) == b"\x1b@hello\n"
    assert printer.status() == UNKNOWN  # loop:// echoes the query: not a status answer, so "just try"
    printer.close()


def test_serial_printer_status_over_a_real_line() -> None:
    fake = PtyPrinter(status=(0x12, 0x12, 0x72))
    printer = SerialPrinter(fake.path, baudrate=38400, timeout=1)
    try:
        assert printer.status() == PAPER_OUT
        fake.status = (0x12, 0x12, 0x12)
        assert printer.status() == READY
        printer.write(b"\x1b@receipt\n")
        deadline = time.monotonic() + 2
        while b"receipt" not in fake.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert b"\x1b@receipt\n" in fake.received
    finally:
        printer.close()
        fake.close()


def test_a_serial_printer_that_never_answers_is_offline_within_the_timeout() -> None:
    fake = PtyPrinter(answer=False)
    printer = SerialPrinter(fake.path, baudrate=9600, timeout=0.5)
    try:
        started = time.monotonic()
        assert printer.status() == OFFLINE
        assert time.monotonic() - started < 2
        with pytest.raises(PrinterError) as info:
            printer.write(b"x" * 200_000)  # fills the line; nobody drains it
        assert info.value.status == OFFLINE
        assert time.monotonic() - started < 5
    finally:
        printer.close()
        fake.close()


def test_missing_serial_port_is_offline() -> None:
    printer = SerialPrinter("/dev/posplugin-no-printer", timeout=0.2)
    assert printer.status() == OFFLINE
    with pytest.raises(PrinterError):
        printer.write(b"x")


def test_network_printer_prints_and_reports_status() -> None:
    fake = TcpPrinter(status=(0x1A, 0x16, 0x12))
    printer = NetworkPrinter("127.0.0.1", fake.port, timeout=1)
    try:
        assert printer.status() == COVER_OPEN
        printer.write(b"\x1b@net\n")
        deadline = time.monotonic() + 2
        while b"net" not in fake.received and time.monotonic() < deadline:
            time.sleep(0.02)
        assert bytes(fake.received) == b"\x1b@net\n"
    finally:
        fake.close()
    assert NetworkPrinter("127.0.0.1", fake.port, timeout=0.5).status() == OFFLINE


def test_file_printer_appends(tmp_path: Path) -> None:
    printer = FilePrinter(tmp_path / "out" / "p.bin")
    assert printer.status() == READY
    printer.write(b"a")
    printer.write(b"b")
    assert (tmp_path / "out" / "p.bin").read_bytes() == b"ab"


def test_queue_prints_in_order_one_write_per_receipt() -> None:
    printer = CapturePrinter()
    jobs = PrintQueue(printer)
    jobs.start()
    try:
        submitted = [jobs.submit("voucher", f"receipt {n}".encode()) for n in range(5)]
        assert all(job.done.wait(2) and job.printed for job in submitted)
        assert printer.jobs == [f"receipt {n}".encode() for n in range(5)]
    finally:
        jobs.stop()


def test_queue_waits_for_paper_then_prints() -> None:
    printer = CapturePrinter()
    printer.current_status = PAPER_OUT
    jobs = PrintQueue(printer, retry_interval=0.05)
    jobs.start()
    try:
        job = jobs.submit("voucher", b"later")
        assert not job.done.wait(0.3) and job.last_status == PAPER_OUT
        printer.current_status = READY
        assert job.done.wait(2) and job.printed and printer.jobs == [b"later"]
    finally:
        jobs.stop()


def test_job_past_its_time_to_live_is_dropped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    now = [1000.0]
    printer = CapturePrinter()
    printer.current_status = OFFLINE
    jobs = PrintQueue(printer, clock=lambda: now[0], retry_interval=0.02)
    jobs.start()
    try:
        drawer = jobs.submit("drawer", b"\x1bp\x00\x32\x32")
        receipt = jobs.submit("voucher", b"r")
        now[0] += 13  # past the drawer's 12 s, well within the receipt's hour
        assert drawer.done.wait(2) and drawer.dropped and not drawer.printed
        printer.current_status = READY
        assert receipt.done.wait(2) and receipt.printed
        assert printer.jobs == [b"r"]
        assert any("dropped drawer receipt" in r.getMessage() for r in caplog.records)
    finally:
        jobs.stop()


def test_broken_backend_does_not_kill_the_queue() -> None:
    class Broken(CapturePrinter):
        def write(self, data: bytes) -> None:
            raise serial.SerialException("device vanished")

    jobs = PrintQueue(Broken(), retry_interval=0.02)
    jobs.start()
    try:
        job = jobs.submit("voucher", b"x")
        assert not job.done.wait(0.2)
        assert jobs._thread.is_alive()
    finally:
        jobs.stop()
