"""Receipt printers on the network (raw TCP, port 9100), with DLE EOT status on the same connection."""

from __future__ import annotations

import socket
import threading

from .protocol import OFFLINE, PrinterError
from .status import query_status


class NetworkPrinter:
    def __init__(self, host: str, port: int = 9100, timeout: float = 5.0) -> None:
        self.host = host
        self.port = port
        self.name = f"network:{host}:{port}"
        self.timeout = timeout
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        try:
            return socket.create_connection((self.host, self.port), timeout=self.timeout)
        except OSError as exc:
            raise PrinterError(OFFLINE, str(exc)) from None

    def write(self, data: bytes) -> None:
        with self._lock, self._connect() as conn:
            try:
                conn.sendall(data)
            except OSError as exc:
                raise PrinterError(OFFLINE, str(exc)) from None

    def status(self) -> str:
        with self._lock:
            try:
                conn = self._connect()
            except PrinterError:
                return OFFLINE
            with conn:
                conn.settimeout(min(2.0, self.timeout))

                def exchange(query: bytes) -> int | None:
                    try:
                        conn.sendall(query)
                        answer = conn.recv(1)
                    except OSError:
                        return None
                    return answer[0] if answer else None

                return query_status(exchange)

    def close(self) -> None:
        pass
