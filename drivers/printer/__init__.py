"""Receipt printer backends behind one small protocol (``write``, ``status``, ``close``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .capture import CapturePrinter
from .escpos_backends import usb_printer, win32raw_printer
from .file_printer import FilePrinter
from .network_printer import NetworkPrinter
from .protocol import (
    COVER_OPEN,
    OFFLINE,
    PAPER_NEAR_END,
    PAPER_OUT,
    PRINTABLE,
    READY,
    UNKNOWN,
    Printer,
    PrinterError,
)
from .serial_printer import SerialPrinter
from .status import parse_status, query_status


def open_printer(config: Any, default_file: Path) -> Printer | None:
    """Build the printer the ``[printer]`` config names; ``None`` for ``backend = "none"``."""
    backend = config.backend
    if backend == "file":
        return FilePrinter(Path(config.file_path) if config.file_path else default_file)
    if backend == "serial":
        return SerialPrinter(config.serial_port, config.baudrate, config.flow_control, config.timeout)
    if backend == "network":
        return NetworkPrinter(config.host, config.tcp_port, config.timeout)
    if backend == "usb":
        return usb_printer(config.usb_vendor_id, config.usb_product_id, config.timeout)
    if backend == "win32raw":
        return win32raw_printer(config.windows_name)
    return None


__all__ = [
    "COVER_OPEN",
    "OFFLINE",
    "PAPER_NEAR_END",
    "PAPER_OUT",
    "PRINTABLE",
    "READY",
    "UNKNOWN",
    "CapturePrinter",
    "FilePrinter",
    "NetworkPrinter",
    "Printer",
    "PrinterError",
    "SerialPrinter",
    "open_printer",
    "parse_status",
    "query_status",
]
