"""Barcode scanner readers behind one small protocol."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .evdev_reader import EvdevScanner, keys_to_frames
from .framing import Framer
from .serial_reader import SerialScanner


class Scanner(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...


def open_scanner(config: Any, on_frame: Callable[[bytes], None]) -> Scanner | None:
    """Build the scanner the ``[scanner]`` config names; ``None`` when scans come only through the panel."""
    if config.backend == "serial" and config.serial_port:
        return SerialScanner(
            config.serial_port,
            on_frame,
            baudrate=config.baudrate,
            framing=config.framing,
            gap_ms=config.gap_ms,
            max_length=config.max_length,
        )
    if config.backend == "evdev" and config.evdev_device:
        return EvdevScanner(config.evdev_device, on_frame, config.max_length)
    return None


__all__ = ["EvdevScanner", "Framer", "Scanner", "SerialScanner", "keys_to_frames", "open_scanner"]
