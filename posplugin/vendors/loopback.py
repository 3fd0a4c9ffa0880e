"""What the vendors' simulators share as real HTTP servers on loopback: an API listener that going offline closes
(cutting its open connections, so clients see exactly what a dead network shows them), an optional control
listener that stays up, and the two ways a handler answers (bytes as they are, or a TCP reset)."""

from __future__ import annotations

import socket
import struct
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Self


class RawResponses(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def send_raw(self, status: int, payload: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()

    def reset(self) -> None:
        """Abort the connection with a TCP RST (SO_LINGER 0), as a dying proxy or network does."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.connection.close()


class LoopbackListeners:
    """The API listener (toggled by ``set_offline``) and the control listener of a simulator. A subclass says
    how a listener is made (``_make_server``); handlers report their connections through ``_track``."""

    thread_prefix = "sim"

    def __init__(self, host: str, port: int, control_port: int | None) -> None:
        self.host = host
        self.port = port
        self.control_port = control_port
        self.offline = False
        self._server: ThreadingHTTPServer | None = None
        self._control_server: ThreadingHTTPServer | None = None
        self._threads: list[threading.Thread] = []
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        self._stopping = threading.Event()

    def _make_server(self, port: int) -> ThreadingHTTPServer:
        raise NotImplementedError

    @property
    def control_url(self) -> str | None:
        return f"http://{self.host}:{self.control_port}" if self._control_server else None

    def start(self) -> Self:
        self._stopping.clear()
        self._start_api()
        if self.control_port is not None and self._control_server is None:
            self._control_server = self._make_server(self.control_port)
            self.control_port = self._control_server.server_address[1]
            self._spawn(self._control_server)
        return self

    def _start_api(self) -> None:
        self._server = self._make_server(self.port)
        self.port = self._server.server_address[1]
        self._spawn(self._server)

    def _spawn(self, server: ThreadingHTTPServer) -> None:
        name = f"{self.thread_prefix}-{server.server_address[1]}"
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name=name)
        thread.start()
        self._threads.append(thread)

    def _stop_api(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._conn_lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stopping.set()
        self._stop_api()
        if self._control_server is not None:
            self._control_server.shutdown()
            self._control_server.server_close()
            self._control_server = None

    def set_offline(self, offline: bool) -> None:
        """Offline: the port refuses connections and open ones are cut. Online: listen again on the same port."""
        if offline == self.offline:
            return
        self.offline = offline
        if offline:
            self._stop_api()
        else:
            self._start_api()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, alive: bool) -> None:
        with self._conn_lock:
            (self._connections.add if alive else self._connections.discard)(conn)
