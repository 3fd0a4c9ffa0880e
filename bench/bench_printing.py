"""Printing: bytes and render time per receipt, and time-to-paper over a serial line at 9600/38400/115200 baud
against the physical limit (bytes × 10 / baud: 8 data bits plus start and stop bit).

The line is a pseudo-terminal whose far end reads at the baud rate's pace and answers DLE EOT like a printer,
so the figure includes what the agent adds: the status queries, the queue and the write."""

from __future__ import annotations

import os
import statistics
import threading
import time
import tty

from bench.harness import Figure, median, p99
from drivers.printer import SerialPrinter
from posplugin.config import config_from_mapping
from posplugin.receipts.composer import ReceiptComposer
from posplugin.receipts.jobs import PrintQueue
from posplugin.receipts.templates import BALANCE, POINT_SHOP, VOUCHER

VIEW = {
    "contact": {"firstName": "Åsa", "lastName": "Öberg", "memberNumber": "1000001"},
    "points": {"balance": 2450, "pending": 300},
    "vouchers": [
        {
            "id": f"v{n}",
            "name": "Bonuscheck 195 kr",
            "voucherNumber": "2511233093766",
            "value": {"amount": 195, "currency": "SEK"},
            "localValues": [{"amount": 19.5, "currency": "EUR"}],
            "expiresOn": "2027-01-21T10:00:00Z",
        }
        for n in range(3)
    ],
}
BAUDS = (9600, 38400, 115200)


class PacedLine:
    """The printer end of a pty that takes bytes no faster than ``baud`` allows."""

    def __init__(self, baud: int) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.seconds_per_byte = 10 / baud
        self.received = 0
        self.last_byte_at = 0.0
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pace_from = None
        while True:
            try:
                chunk = os.read(self.master, 64)
            except OSError:
                return
            now = time.perf_counter()
            pace_from = now if pace_from is None or pace_from < now - 0.05 else pace_from
            pace_from += len(chunk) * self.seconds_per_byte
            delay = pace_from - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            if chunk[:2] == b"\x10\x04":
                os.write(self.master, b"\x12")
                continue
            self.received += len(chunk)
            self.last_byte_at = time.perf_counter()

    def close(self) -> None:
        for fd in (self.slave, self.master):
            os.close(fd)


def contexts(service: ReceiptComposer) -> dict[str, tuple[tuple, dict]]:
    point_shop = {
        **service.base_context(),
        **service.member_context(VIEW),
        "item_name": "Kaffe och bulle",
        "points_spent": "300",
        "balance_after": "2 150",
        "purchase_id": "3f8a0c2e-1111-4222-8333-444455556666",
        "instructions": "Visa kvittot i kassan",
        "qr": "PS:3f8a0c2e-1111-4222-8333-444455556666",
    }
    return {
        "voucher": (VOUCHER, service.voucher_context(VIEW, VIEW["vouchers"][0])),
        "point shop": (POINT_SHOP, point_shop),
        "balance slip": (BALANCE, service.balance_context(VIEW)),
    }


def run() -> list[Figure]:
    config = config_from_mapping(
        {
            "agent": {"language": "sv", "store_id": "Åre", "till_id": "2"},
            "receipt": {"header": ["Butiken i Åre", "Storgatan 1"], "footer": ["Välkommen åter!"]},
        }
    )
    service = ReceiptComposer(config, time.time)
    figures = []
    voucher_bytes = b""
    for name, (layout, context) in contexts(service).items():
        samples = []
        for _ in range(300):
            started = time.perf_counter()
            data = service.renderer.render(layout, context)
            samples.append(time.perf_counter() - started)
        if name == "voucher":
            voucher_bytes = data
        figures.append(
            Figure(
                f"{name} receipt: bytes / render",
                len(data),
                "B",
                target="≤ 1024" if name == "voucher" else "",
                ok=len(data) <= 1024 if name == "voucher" else None,
                note=f"render median {median(samples) * 1000:.2f} ms, p99 {p99(samples) * 1000:.2f} ms",
            )
        )
    for baud in BAUDS:
        line = PacedLine(baud)
        queue = PrintQueue(SerialPrinter(line.path, baudrate=baud, timeout=5))
        queue.start()
        times = []
        try:
            for _ in range(3):
                before = line.received
                started = time.perf_counter()
                job = queue.submit("voucher", voucher_bytes)
                job.done.wait(30)
                while line.received - before < len(voucher_bytes):
                    time.sleep(0.001)
                times.append(line.last_byte_at - started)
        finally:
            queue.stop()
            line.close()
        limit = len(voucher_bytes) * 10 / baud
        figures.append(
            Figure(
                f"voucher time-to-paper at {baud} baud",
                round(statistics.median(times), 3),
                "s",
                target="≤ 1.1 at 9600" if baud == 9600 else f"≈ {limit:.3f} (limit)",
                limit=f"{limit:.3f} s",
                ok=statistics.median(times) <= (1.1 if baud == 9600 else limit * 1.5 + 0.05),
                note=f"{len(voucher_bytes)} B, status queries included",
            )
        )
    return figures


if __name__ == "__main__":
    for figure in run():
        print(figure)
