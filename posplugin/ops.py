"""The op service every kind shares: one opId is one op (``once``), the cashier's few seconds of waiting
(``answer``), what the POS sees of an op, and a person's retry, park and resolve."""

from __future__ import annotations

import asyncio
import logging
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from .errors import AgentError
from .loyalty.kinds import op_view, public_state
from .outbox.model import Op
from .outbox.store import OpIdConflict, OpStateError, OutboxStore
from .outbox.worker import OutboxWorker
from .texts import message

log = logging.getLogger(__name__)
NOTE_MAX = 500

OP_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")


def checked_op_id(op_id: str | None) -> str:
    """The POS's opId, or a new one when it sent none."""
    if op_id is not None and not OP_ID.fullmatch(op_id):
        raise AgentError(422, "invalid_request", "opId must be 1-64 letters, digits, '-', '_', '.' or ':'")
    return op_id or str(uuid.uuid4())


class OpService:
    def __init__(
        self,
        store: OutboxStore,
        worker: OutboxWorker,
        language: str,
        clock: Callable[[], float],
        cashier_wait: Callable[[], float],
    ) -> None:
        self.store = store
        self.worker = worker
        self.language = language
        self.clock = clock
        self.cashier_wait = cashier_wait  # read per call: the settings page may change it

    async def get(self, op_id: str) -> dict[str, Any]:
        op = await self.store.get(op_id)
        if op is None:
            raise AgentError(404, "not_found", message("not_found", self.language))
        return self.describe(op)

    async def queue(self) -> dict[str, Any]:
        counts = await self.store.counts()
        return {**counts, "ops": [self.describe(op) for op in await self.store.listing()]}

    async def retry(self, op_id: str) -> dict[str, Any]:
        op = await self._act(op_id, lambda: self.store.retry(op_id, self.clock()))
        self.worker.wake()
        return op

    async def park(self, op_id: str) -> dict[str, Any]:
        return await self._act(op_id, lambda: self.store.park(op_id, self.clock()))

    async def resolve(self, op_id: str, note: str) -> dict[str, Any]:
        note = " ".join(note.split())
        if not note or len(note) > NOTE_MAX:
            raise AgentError(422, "invalid_request", f"note: 1-{NOTE_MAX} characters saying how it was settled")
        op = await self._act(op_id, lambda: self.store.resolve(op_id, note, self.clock()))
        log.info("op %s resolved by a person", op_id)
        return op

    async def _act(self, op_id: str, action: Callable[[], Awaitable[Op]]) -> dict[str, Any]:
        await self._existing(op_id)
        try:
            return self.describe(await action())
        except OpStateError as exc:
            raise AgentError(
                409, "op_state", f"{message('op_state', self.language)} ({exc.action}: {public_state(exc.op)})"
            ) from None

    async def once(
        self,
        op_id: str,
        kind: str,
        contact_id: str,
        request: Mapping[str, Any] | None,
        target_id: str,
        create: Callable[[], Awaitable[dict[str, Any]]],
    ) -> dict[str, Any]:
        """One opId is one op. A repeat of a request already captured is answered from its op, whenever it
        arrives — even while the first call still waits on Engage, or after the checks ``create`` makes would
        now fail (a redeemed voucher is no longer available). Only another request under a used opId is 409."""
        try:
            existing = await self.store.find(op_id, kind, contact_id, request, target_id)
            if existing is None:
                try:
                    return await create()
                except AgentError:
                    # The same request may have been captured while this one was being checked.
                    existing = await self.store.find(op_id, kind, contact_id, request, target_id)
                    if existing is None:
                        raise
            return await self.answer(existing)
        except OpIdConflict:
            raise AgentError(409, "op_id_conflict", message("op_id_conflict", self.language)) from None

    def describe(self, op: Op) -> dict[str, Any]:
        return op_view(op, self.language)

    async def _existing(self, op_id: str) -> Op:
        op = await self.store.get(op_id)
        if op is None:
            raise AgentError(404, "not_found", message("not_found", self.language))
        return op

    async def answer(self, op: Op) -> dict[str, Any]:
        """Wait a few seconds for a live op; past that the POS hears "queued" and the request carries on."""
        if op.is_live:
            task = self.worker.kick(op.op_id)
            await asyncio.wait({task}, timeout=self.cashier_wait())  # never cancels the task
            op = await self.store.mark_reported_queued(op.op_id, self.clock())
        return self.describe(op)
