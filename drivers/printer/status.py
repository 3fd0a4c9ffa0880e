"""ESC/POS real-time status (DLE EOT n): the three queries and what their answer bytes mean."""

from __future__ import annotations

from collections.abc import Callable

from .protocol import COVER_OPEN, OFFLINE, PAPER_NEAR_END, PAPER_OUT, READY, UNKNOWN

QUERY_PRINTER = b"\x10\x04\x01"
QUERY_OFFLINE_CAUSE = b"\x10\x04\x02"
QUERY_PAPER = b"\x10\x04\x04"


def _valid(byte: int) -> bool:
    # Every DLE EOT answer has bit 1 and bit 4 set, bits 0 and 7 clear.
    return byte & 0b1001_0011 == 0b0001_0010


def parse_status(printer: int | None, cause: int | None, paper: int | None) -> str:
    """Map the answers (None where none came) to one status word, the most actionable first."""
    if printer is None:
        return OFFLINE
    if not _valid(printer):
        return UNKNOWN
    if paper is not None and _valid(paper) and paper & 0x60:
        return PAPER_OUT
    if cause is not None and _valid(cause):
        if cause & 0x04:
            return COVER_OPEN
        if cause & 0x20:
            return PAPER_OUT
    if printer & 0x08:
        return OFFLINE
    if paper is not None and _valid(paper) and paper & 0x0C:
        return PAPER_NEAR_END
    return READY


def query_status(exchange: Callable[[bytes], int | None]) -> str:
    """Run the three queries through ``exchange`` (send a query, return the answer byte or None)."""
    printer = exchange(QUERY_PRINTER)
    if printer is None or not _valid(printer):
        return parse_status(printer, None, None)
    return parse_status(printer, exchange(QUERY_OFFLINE_CAUSE), exchange(QUERY_PAPER))
