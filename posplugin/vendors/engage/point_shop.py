"""The point shop at the till: what the member can buy, buying it safely, what was bought, and the receipt."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ...errors import AgentError
from ...loyalty.kinds import POINT_SHOP_PURCHASE
from ...loyalty.status import TRANSPORT_FAILURES, LoyaltyStatus
from ...ops import OpService, checked_op_id
from ...outbox.model import CONFIRMED, REJECTED, Op
from ...outbox.store import OutboxStore
from ...outbox.worker import OutboxWorker
from ...receipts import formatting as fmt
from ...receipts.service import ReceiptService
from ...texts import message
from ...timestamps import iso
from . import EngageAuthError, EngageClient, EngageError, EngageHTTPError, PointAccount, PointShopItem
from .ids import checked_guid
from .member_view import number


class PointShopService:
    def __init__(
        self,
        client: EngageClient,
        store: OutboxStore,
        worker: OutboxWorker,
        ops: OpService,
        receipts: ReceiptService,
        status: LoyaltyStatus,
        language: str,
        qr: bool,
        clock: Callable[[], float],
    ) -> None:
        self.client = client
        self.store = store
        self.worker = worker
        self.ops = ops
        self.receipts = receipts
        self.status = status
        self.language = language
        self.qr = qr
        self.clock = clock

    def _error(self, status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, self.language))

    def _engage_error(self, exc: EngageError) -> AgentError:
        if isinstance(exc, TRANSPORT_FAILURES):
            self.status.record_failure(exc)
            return self._error(503, "loyalty_offline")
        self.status.record_success()
        if isinstance(exc, EngageAuthError):
            return self._error(502, "loyalty_auth")
        if isinstance(exc, EngageHTTPError) and exc.status in (400, 404):
            return self._error(404, "member_not_found")
        return self._error(502, "loyalty_error")

    # ---- items -----------------------------------------------------------------------------------------

    async def _catalogue(self, contact_id: str) -> tuple[list[PointShopItem], list[PointAccount]]:
        if self.status.is_offline:
            raise self._error(503, "loyalty_offline")
        try:
            items, accounts = await asyncio.gather(
                self.client.list_point_shop_items(contact_id), self.client.get_point_accounts(contact_id)
            )
        except EngageError as exc:
            raise self._engage_error(exc) from None
        self.status.record_success()
        return items, accounts

    async def items(self, contact_id: str) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId", self.language)
        items, accounts = await self._catalogue(contact_id)
        now = datetime.now(UTC)
        balances = {a.definition_id: a.balance for a in accounts}
        shown = []
        for item in items:
            if (item.valid_from and item.valid_from > now) or (item.valid_to and item.valid_to <= now):
                continue  # outside its window: not for sale
            balance = balances.get(item.point_definition_id, Decimal(0))
            shown.append(
                {
                    "id": item.id,
                    "name": item.name,
                    "title": item.title,
                    "description": item.description,
                    "imageUrl": item.image_url,
                    "cost": item.cost,
                    "pointDefinitionId": item.point_definition_id,
                    "balance": number(balance),
                    "affordable": balance >= item.cost,
                    "missingPoints": number(max(Decimal(0), item.cost - balance)),
                    "validFrom": iso(item.valid_from),
                    "validTo": iso(item.valid_to),
                }
            )
        shown.sort(key=lambda i: (not i["affordable"], i["cost"], i["name"]))
        return {"items": shown}

    # ---- purchase --------------------------------------------------------------------------------------

    async def purchase(self, contact_id: str, item_id: str, op_id: str | None) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId")
        if not item_id or len(item_id) > 64 or not item_id.isprintable():
            raise AgentError(422, "invalid_request", "itemId is missing or malformed")
        op_id = checked_op_id(op_id)

        async def create() -> dict[str, Any]:
            now = self.clock()
            # The purchase id is made once, here, and is the op's target: every retry sends exactly this value.
            # A racing repeat of the same opId makes its own, which the capture discards (the first one is kept).
            purchase_id = str(uuid.uuid4())
            offline_refusal: dict[str, Any] = {"state": REJECTED, "reason": "offline_not_allowed"}
            if self.status.is_offline:
                op = await self._capture(op_id, purchase_id, contact_id, {"itemId": item_id}, now, offline_refusal)
                return self.ops.describe(op)
            try:
                items, accounts = await self._catalogue(contact_id)
            except AgentError as exc:
                if exc.code != "loyalty_offline":
                    raise
                op = await self._capture(op_id, purchase_id, contact_id, {"itemId": item_id}, now, offline_refusal)
                return self.ops.describe(op)
            item = next((i for i in items if i.id == item_id), None)
            balance = next((a.balance for a in accounts if item and a.definition_id == item.point_definition_id), None)
            payload = {
                "itemId": item_id,
                "itemName": item.name if item else "",
                "cost": item.cost if item else 0,
                "instructions": item.description if item else "",
                "balanceBefore": number(balance) if balance is not None else None,
            }
            return await self.ops.answer(await self._capture(op_id, purchase_id, contact_id, payload, now))

        return await self.ops.once(op_id, POINT_SHOP_PURCHASE, contact_id, {"itemId": item_id}, "", create)

    async def _capture(
        self,
        op_id: str,
        purchase_id: str,
        contact_id: str,
        payload: dict[str, Any],
        now: float,
        outcome: dict[str, Any] | None = None,
    ) -> Op:
        op, _ = await self.store.capture(
            op_id=op_id,
            kind=POINT_SHOP_PURCHASE,
            target_id=purchase_id,
            contact_id=contact_id,
            now=now,
            request={"itemId": payload["itemId"]},
            payload=payload,
            **(outcome or {}),
        )
        return op

    # ---- history and receipt ---------------------------------------------------------------------------

    async def purchases(self, contact_id: str) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId", self.language)
        if self.status.is_offline:
            raise self._error(503, "loyalty_offline")
        try:
            history = await self.client.list_point_shop_purchases(contact_id)
        except EngageHTTPError as exc:
            if exc.status == 404 and exc.code != "ContactNotFound":
                self.status.record_success()
                return {"items": []}  # the vendor answers 404 when there are no purchases
            raise self._engage_error(exc) from None
        except EngageError as exc:
            raise self._engage_error(exc) from None
        self.status.record_success()
        return {
            "items": [
                {
                    "purchaseId": p.id,
                    "itemId": p.item_id,
                    "name": p.name,
                    "cost": p.cost,
                    "status": p.status,
                    "createdOn": iso(p.created_on),
                }
                for p in history
            ]
        }

    async def print_receipt(self, contact_id: str, op_id: str) -> dict[str, Any]:
        contact_id = checked_guid(contact_id, "contactId", self.language)
        op = await self.store.get(op_id)
        if op is None or op.kind != POINT_SHOP_PURCHASE or op.contact_id != contact_id.lower():
            raise self._error(404, "not_found")
        if op.state != CONFIRMED:
            raise AgentError(409, "not_completed", "The purchase is not completed yet; print it when it is.")
        view = await self.receipts.member_view(op.contact_id)
        cost = int(op.payload.get("cost") or 0)
        before = op.payload.get("balanceBefore")
        context = {
            **self.receipts.composer.member_context(view),
            "item_name": op.payload.get("itemName") or op.payload.get("itemId", ""),
            "points_spent": fmt.points(cost, self.language),
            "balance_after": fmt.points(before - cost, self.language) if isinstance(before, int | float) else "",
            "purchase_id": op.target_id,
            "instructions": op.payload.get("instructions", ""),
            "qr": f"PS:{op.target_id}" if self.qr else "",
        }
        return await self.receipts.print_point_shop(context, contact_id)
