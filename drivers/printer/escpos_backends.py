"""USB and Windows spooler printers through python-escpos's own backends (optional dependencies).

USB needs pyusb and a udev rule (``drivers/assets``); the Windows raw spooler needs pywin32. Neither can be
exercised on a machine without the hardware, so both are kept to the thinnest wrapper.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from .protocol import OFFLINE, UNKNOWN, PrinterError
from .status import query_status

log = logging.getLogger(__name__)


class EscposBackedPrinter:
    def __init__(self, name: str, factory: Any) -> None:
        self.name = name
        self._factory = factory
        self._device: Any = None
        self._lock = threading.Lock()

    def _open(self) -> Any:
        if self._device is None:
            try:
                self._device = self._factory()
                self._device.open()
            except Exception as exc:  # backend libraries raise their own types (USBError, pywintypes.error)
                self._device = None
                raise PrinterError(OFFLINE, str(exc)) from None
        return self._device

    def write(self, data: bytes) -> None:
        with self._lock:
            device = self._open()
            try:
                device._raw(data)
            except Exception as exc:
                self._device = None
                raise PrinterError(OFFLINE, str(exc)) from None

    def status(self) -> str:
        with self._lock:
            try:
                device = self._open()
            except PrinterError:
                return OFFLINE
            if not hasattr(device, "_read"):
                return UNKNOWN

            def exchange(query: bytes) -> int | None:
                device._raw(query)
                answer = device._read()
                return answer[0] if answer else None

            try:
                return query_status(exchange)
            except Exception:
                self._device = None
                return OFFLINE

    def close(self) -> None:
        with self._lock:
            if self._device is not None:
                try:
                    self._device.close()
                except Exception:  # closing a vanished device must not raise into the agent
                    log.debug("closing %s failed", self.name, exc_info=True)
                self._device = None


def usb_printer(vendor_id: int, product_id: int, timeout: float) -> EscposBackedPrinter:
    def factory() -> Any:
        from escpos.printer import Usb

        return Usb(vendor_id, product_id, timeout=int(timeout * 1000))

    return EscposBackedPrinter(f"usb:{vendor_id:04x}:{product_id:04x}", factory)


def win32raw_printer(printer_name: str) -> EscposBackedPrinter:
    def factory() -> Any:
        from escpos.printer import Win32Raw

        return Win32Raw(printer_name)

    return EscposBackedPrinter(f"win32raw:{printer_name}", factory)
