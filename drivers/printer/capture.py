"""Keeps what was printed in memory, with a status a test can set."""

from __future__ import annotations

import threading

from .protocol import PRINTABLE, READY, PrinterError


class CapturePrinter:
    def __init__(self) -> None:
        self.name = "capture"
        self.jobs: list[bytes] = []
        self.current_status = READY
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._lock:
            if self.current_status not in PRINTABLE:
                raise PrinterError(self.current_status)
            self.jobs.append(data)

    def status(self) -> str:
        return self.current_status

    def close(self) -> None:
        pass
