"""Receipt printers on a serial port (RS-232 or USB-serial) through pyserial, with DLE EOT status.

``port`` may be a device (``/dev/ttyUSB0``, ``COM3``) or a pyserial URL (``loop://`` in tests). A write that
cannot finish within the timeout (printer off, flow control holding) is reported as offline.
"""

from __future__ import annotations

import threading

import serial

from .protocol import OFFLINE, PrinterError
from .status import query_status


class SerialPrinter:
    def __init__(self, port: str, baudrate: int = 38400, flow_control: str = "none", timeout: float = 5.0) -> None:
        self.port = port
        self.name = f"serial:{port}"
        self.baudrate = baudrate
        self.flow_control = flow_control
        self.timeout = timeout
        self._serial: serial.Serial | None = None
        self._lock = threading.Lock()

    def _open(self) -> serial.Serial:
        if self._serial is None or not self._serial.is_open:
            try:
                self._serial = serial.serial_for_url(
                    self.port,
                    baudrate=self.baudrate,
                    rtscts=self.flow_control == "rtscts",
                    xonxoff=self.flow_control == "xonxoff",
                    timeout=min(1.0, self.timeout),
                    write_timeout=self.timeout,
                )
            except (serial.SerialException, OSError, ValueError) as exc:
                raise PrinterError(OFFLINE, str(exc)) from None
        return self._serial

    def write(self, data: bytes) -> None:
        with self._lock:
            port = self._open()
            try:
                port.write(data)
                port.flush()
            except (serial.SerialTimeoutException, serial.SerialException, OSError) as exc:
                self._drop()
                raise PrinterError(OFFLINE, f"write did not finish: {exc}") from None

    def status(self) -> str:
        with self._lock:
            try:
                port = self._open()
            except PrinterError:
                return OFFLINE

            def exchange(query: bytes) -> int | None:
                port.reset_input_buffer()
                port.write(query)
                answer = port.read(1)
                return answer[0] if answer else None

            try:
                return query_status(exchange)
            except (serial.SerialException, OSError):
                self._drop()
                return OFFLINE

    def _drop(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            except (serial.SerialException, OSError):
                pass
            self._serial = None

    def close(self) -> None:
        with self._lock:
            self._drop()
