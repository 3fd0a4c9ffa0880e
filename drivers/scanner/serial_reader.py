"""Serial barcode scanners through pyserial, in a thread of their own.

``port`` is anything pyserial opens: ``/dev/ttyACM0``, ``COM3``, or a URL such as ``loop://`` (tests). A port
that disappears (scanner unplugged) is reopened every few seconds; nothing here ever raises into the agent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import serial

from .framing import Framer

log = logging.getLogger(__name__)
REOPEN_DELAY = 2.0


class SerialScanner:
    def __init__(
        self,
        port: str,
        on_frame: Callable[[bytes], None],
        *,
        baudrate: int = 9600,
        framing: str = "CR",
        gap_ms: int = 60,
        max_length: int = 256,
    ) -> None:
        self.port_name = port
        self.on_frame = on_frame
        self.baudrate = baudrate
        self.framer = Framer(framing, max_length)
        self.gap = gap_ms / 1000.0
        self.serial: serial.Serial | None = None
        self.errors = 0
        self._stop = threading.Event()
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name=f"scanner-{self.port_name}", daemon=True)
        self._thread.start()

    def wait_open(self, timeout: float) -> bool:
        return self._opened.wait(timeout)

    def stop(self) -> None:
        self._stop.set()
        port = self.serial
        if port is not None:
            try:
                port.cancel_read()
            except (AttributeError, OSError, serial.SerialException):
                pass
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.serial = serial.serial_for_url(self.port_name, baudrate=self.baudrate, timeout=self.gap)
            except (serial.SerialException, OSError, ValueError) as exc:
                self.errors += 1
                log.warning("scanner port %s cannot be opened: %s", self.port_name, exc)
                self._stop.wait(REOPEN_DELAY)
                continue
            self._opened.set()
            try:
                self._read_loop(self.serial)
            except (serial.SerialException, OSError) as exc:
                self.errors += 1
                log.warning("scanner port %s failed: %s; reopening", self.port_name, exc)
            finally:
                try:
                    self.serial.close()
                except (serial.SerialException, OSError):
                    pass
                self._opened.clear()
            self._stop.wait(REOPEN_DELAY)

    def _read_loop(self, port: serial.Serial) -> None:
        while not self._stop.is_set():
            data = port.read(max(1, port.in_waiting or 1))
            if data:
                for frame in self.framer.feed(data):
                    self._emit(frame)
            elif self.framer.framing == "gap":
                pending = self.framer.flush()
                if pending:
                    self._emit(pending)

    def _emit(self, frame: bytes) -> None:
        try:
            self.on_frame(frame)
        except Exception:  # the consumer's bug must not kill the reader thread
            log.exception("scan consumer failed")
