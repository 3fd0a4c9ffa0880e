"""In-process publish/subscribe for Server-Sent Events (`scan`, `member`, `op`, `status`)."""

from __future__ import annotations

import asyncio
import itertools
import json
from dataclasses import dataclass
from typing import Any

QUEUE_SIZE = 100


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        payload = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.name}\ndata: {payload}\n\n".encode()


class EventBus:
    """Each subscriber has a bounded queue; a subscriber that stops reading loses its oldest events, never
    blocks the publisher."""

    CLOSE = "_close"

    def __init__(self) -> None:
        self._subscribers: set[asyncio.Queue[Event]] = set()
        self._ids = itertools.count(1)

    def close(self) -> None:
        """End every stream (server shutting down): subscribers receive a final ``_close`` event."""
        self.publish(self.CLOSE, {})

    def publish(self, name: str, data: dict[str, Any]) -> None:
        event = Event(next(self._ids), name, data)
        for queue in list(self._subscribers):
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(event)

    def subscribe(self) -> asyncio.Queue[Event]:
        queue: asyncio.Queue[Event] = asyncio.Queue(QUEUE_SIZE)
        self._subscribers.add(queue)
        return queue

    def unsubscribe(self, queue: asyncio.Queue[Event]) -> None:
        self._subscribers.discard(queue)

    @property
    def subscriber_count(self) -> int:
        return len(self._subscribers)
