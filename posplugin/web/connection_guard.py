"""Slow clients cannot tie the agent up: uvicorn's h11 protocol with a receive deadline and a connection cap.

uvicorn waits forever for the rest of a half-sent request (slowloris): a thousand such connections locked the
cashier out. Here every request must arrive whole, headers and body, within ``REQUEST_TIMEOUT`` of the
connection opening (or of the previous response on a kept-alive connection), or the connection is closed. And
past ``MAX_CONNECTIONS``, a new connection evicts the oldest one that is still *receiving* (or idle), never one
whose request is being answered — so the panel's event stream and a cashier's redeem keep their place.
"""

from __future__ import annotations

import asyncio
import time

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

REQUEST_TIMEOUT = 10.0  # seconds for a whole request to arrive; the POS and the panel send theirs at once
MAX_CONNECTIONS = 256


class GuardedH11Protocol(H11Protocol):
    _deadline_task: asyncio.TimerHandle | None = None
    _waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()
        self._evict_if_full()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets the same deadline

    @property
    def receiving(self) -> bool:
        """Waiting for (the rest of) a request: nothing of ours is being answered on this connection."""
        return self.conn.their_state in (h11.IDLE, h11.SEND_BODY) and (
            self.cycle is None or self.cycle.response_complete or self.conn.their_state is h11.SEND_BODY
        )

    def _arm(self) -> None:
        self._disarm()
        self._waiting_since = time.monotonic()
        self._deadline_task = self.loop.call_later(REQUEST_TIMEOUT, self._deadline_passed)

    def _disarm(self) -> None:
        if self._deadline_task is not None:
            self._deadline_task.cancel()
            self._deadline_task = None

    def _deadline_passed(self) -> None:
        self._deadline_task = None
        if self.receiving and not self.transport.is_closing():
            self.transport.close()

    def _evict_if_full(self) -> None:
        if len(self.connections) <= MAX_CONNECTIONS:
            return
        candidates = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and c is not self and c.receiving and not c.transport.is_closing()
        ]
        for victim in sorted(candidates, key=lambda c: c._waiting_since)[: len(self.connections) - MAX_CONNECTIONS]:
            victim.transport.close()
