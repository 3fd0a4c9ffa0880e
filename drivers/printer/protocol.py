"""The small interface every printer backend offers, and what can go wrong."""

from __future__ import annotations

from typing import Protocol

READY, OFFLINE, PAPER_OUT, COVER_OPEN, PAPER_NEAR_END, UNKNOWN = (
    "ready",
    "offline",
    "paper_out",
    "cover_open",
    "paper_near_end",
    "unknown",
)
PRINTABLE = (READY, PAPER_NEAR_END, UNKNOWN)  # unknown: the backend cannot read status, so just try


class PrinterError(Exception):
    """A print that did not happen; ``status`` is one of the status words above."""

    def __init__(self, status: str, detail: str = "") -> None:
        super().__init__(f"printer {status}" + (f": {detail}" if detail else ""))
        self.status = status


class Printer(Protocol):
    name: str

    def write(self, data: bytes) -> None:
        """Send one whole receipt in one write; raise PrinterError when it cannot be delivered."""

    def status(self) -> str:
        """Ask the printer (DLE EOT) where the transport can answer; UNKNOWN where it cannot."""

    def close(self) -> None: ...
