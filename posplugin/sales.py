"""Sales to points: validate, capture durably, deliver later through the outbox.

A sale never waits for the loyalty system: once it adds up and carries no card data it is committed to the outbox
and the POS is answered at once (202, ``queued``). What it goes as is the backend's ``SaleChannel``: an Engage
receipt (``vendors/engage/sale_receipts.py``) or a fabric earn (``vendors/fabric/sale_earn.py``), both keyed by
the POS receipt id, which the vendor treats as a duplicate when it comes again — so an unanswered attempt is
simply sent again. A repeated POST of the same receipt id returns the same op; a *different* sale under a used
receipt id is refused, because the vendor would silently drop it.

The member is the id the POS sent, or a scanned code resolved from the till's cache (or by the outbox just
before sending).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .errors import AgentError
from .events import EventBus
from .loyalty.kinds import op_view, public_state
from .loyalty.ports import SaleChannel
from .outbox.model import Op
from .outbox.store import OpIdConflict, OutboxStore, TargetBusy
from .outbox.worker import OutboxWorker
from .sale_rules import Sale, card_data_fields
from .texts import message

if TYPE_CHECKING:
    from .members import MemberService

log = logging.getLogger(__name__)
SALE_NAMESPACE = uuid.UUID("5a1e5a1e-0b7e-4c3a-9d2e-7f0c1e2d3b4a")


@dataclass(frozen=True)
class SaleRequest:
    sale: Sale
    created_date: datetime
    store_id: str | None
    contact_id: str | None
    member_code: str | None
    used_vouchers: list[dict[str, str]] = field(default_factory=list)
    original_receipt_id: str | None = None  # a return: the sale it returns


class SalesService:
    def __init__(
        self,
        store: OutboxStore,
        worker: OutboxWorker,
        members: MemberService,
        channel: SaleChannel,
        events: EventBus,
        store_id: Callable[[], str],
        language: str,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.worker = worker
        self.members = members
        self.channel = channel
        self.events = events
        self.store_id = store_id
        self.language = language
        self.clock = clock

    async def submit(self, request: SaleRequest) -> dict[str, Any]:
        sale = request.sale
        risky = card_data_fields(sale.free_text)
        if risky:
            # Say where, never what: the number must not reach a response, a log or the database.
            raise AgentError(422, "card_data_refused", f"{message('card_data_refused', self.language)} ({risky[0]})")
        broken = self.channel.violations(sale)
        if broken:
            first = broken[0]
            error = AgentError(422, "invalid_sale", f"{message('invalid_sale', self.language)} {first.message()}")
            error.details = {
                "rule": first.rule,
                "line": first.line,
                "expected": str(first.expected),
                "actual": str(first.actual),
                "violations": [v.rule + (f"@{v.line}" if v.line else "") for v in broken],
            }
            raise error
        store = request.store_id or self.store_id()
        if not store:
            raise AgentError(
                422, "invalid_request", f"{message('invalid_request', self.language)} (storeId: none given or set)"
            )
        contact_id, member_code = await self._member(request)
        identity, payload = await self.channel.payload(request, store, contact_id, member_code)
        op_id = str(uuid.uuid5(SALE_NAMESPACE, f"{store}\x1f{sale.receipt_id}"))
        try:
            op, created = await self.store.capture(
                op_id=op_id,
                kind=self.channel.kind,
                target_id=sale.receipt_id,
                contact_id=contact_id or "",
                now=self.clock(),
                request=identity,
                payload=payload,
                reported_queued=True,
            )
        except (OpIdConflict, TargetBusy):
            raise self._conflict() from None
        if created:
            log.info("sale %s captured (%d lines) for delivery as %s", op.op_id, len(sale.lines), op.kind)
            self.worker.wake()
            self.events.publish("sale", {"contactId": contact_id, "opId": op.op_id, "state": public_state(op)})
        return describe_sale(op, self.language, self.channel.points_note)

    async def _member(self, request: SaleRequest) -> tuple[str | None, str | None]:
        """(contactId, code left for the outbox to resolve)."""
        if request.contact_id:
            code = self.members.parse(request.contact_id)
            if code.is_contact_id:
                return code.value, None
            # Not recognisably a member id: the vendor's own check decides (Engage: a 422 "not a GUID").
            return self.members.ids.member(code.value, self.language), None
        if request.member_code:
            code = self.members.parse(request.member_code)
            if code.is_contact_id:
                return code.value, None
            known = await self.members.cache.contact_for_code(code.value)
            return (known, None) if known else (None, code.value)
        return None, None

    def _conflict(self) -> AgentError:
        return AgentError(409, "sale_conflict", message("sale_conflict", self.language))


def describe_sale(op: Op, language: str, points_note: str) -> dict[str, Any]:
    body = op_view(op, language)
    body["pointsNote"] = points_note
    return body
