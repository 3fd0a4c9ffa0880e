"""Printers for tests that talk real transports: a pty (a serial line) and a TCP port 9100."""

from __future__ import annotations

import os
import socket
import threading
import tty


class PtyPrinter:
    """The far end of a pseudo-terminal: records what is printed and answers DLE EOT as configured.
    With ``answer=False`` it never reads or answers, like a printer that is switched off."""

    def __init__(self, answer: bool = True, status: tuple[int, int, int] = (0x12, 0x12, 0x12)) -> None:
        self.master, self.slave = os.openpty()
        tty.setraw(self.master)
        tty.setraw(self.slave)
        self.path = os.ttyname(self.slave)
        self.status = status
        self.received = bytearray()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True) if answer else None
        if self._thread:
            self._thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                return
            pending += chunk
            while b"\x10\x04" in pending:
                before, _, rest = pending.partition(b"\x10\x04")
                if not rest:
                    break
                self.received += before
                query, pending = rest[0], rest[1:]
                index = {1: 0, 2: 1, 4: 2}.get(query)
                if index is not None:
                    os.write(self.master, bytes([self.status[index]]))
            self.received += pending
            pending = b""

    def close(self) -> None:
        self._stop.set()
        for fd in (self.slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass


class TcpPrinter:
    """A raw port-9100 printer on loopback."""

    def __init__(self, status: tuple[int, int, int] = (0x12, 0x12, 0x12)) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.status = status
        self.received = bytearray()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            with conn:
                while True:
                    data = conn.recv(4096)
                    if not data:
                        break
                    if data.startswith(b"\x10\x04") and len(data) == 3:
                        conn.sendall(bytes([self.status[{1: 0, 2: 1, 4: 2}[data[2]]]]))
                    else:
                        self.received += data

    def close(self) -> None:
        try:
            self.server.shutdown(socket.SHUT_RDWR)  # wakes the accept() so the port really closes
        except OSError:
            pass
        self.server.close()
