"""Engage behind the core's member ports: ids (GUIDs), the member directory, the voucher lists."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ...loyalty.errors import MemberNotFound, MultipleMembers
from ...texts import readable_description
from ...timestamps import iso
from .client import EngageClient
from .errors import EngageHTTPError
from .ids import checked_guid, is_guid
from .member_view import build_view, number, voucher_json
from .models import Contact, PointTransaction

# Engage's error codes for "no such contact" (its GET contacts/{id} answers 404 with one of these).
NOT_FOUND_CODES = {"ContactNotFound", "InvalidContactId", "InvalidContact"}
TX_FILTERS = {"all": "All", "active": "Active", "pending": "Pending"}


class EngageIds:
    def member(self, value: str, language: str) -> str:
        return checked_guid(value, "contactId", language)

    def voucher(self, value: str, language: str) -> str:
        return checked_guid(value, "voucherId", language)

    def is_member_id(self, text: str) -> bool:
        return is_guid(text)


class EngageDirectory:
    def __init__(self, client: EngageClient, lookup_keys: tuple[str, ...]) -> None:
        self.client = client
        self.lookup_keys = lookup_keys

    async def find(self, value: str, key: str) -> str | None:
        try:
            return await self.client.find_contact_id(key, value)
        except EngageHTTPError as exc:
            if exc.status == 409:
                raise MultipleMembers(str(exc)) from None
            if exc.status in (400, 404):
                return None  # not found under this key, or the code does not fit its format
            raise

    async def view(self, member_id: str, now: float) -> dict[str, Any]:
        results = await asyncio.gather(
            self.client.get_contact(member_id),
            self.client.get_point_accounts(member_id),
            self.client.list_all_vouchers(member_id, "available"),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException):
                if isinstance(result, EngageHTTPError) and result.code in NOT_FOUND_CODES:
                    raise MemberNotFound(str(result)) from None
                raise result
        contact, accounts, vouchers = results
        assert isinstance(contact, Contact) and isinstance(accounts, list) and isinstance(vouchers, list)
        return build_view(contact, accounts, vouchers, now)

    async def point_transactions(
        self, member_id: str, filter_: str, offset: int, count: int, account_id: str | None, language: str
    ) -> dict[str, Any]:
        if account_id is None:
            accounts = await self.client.get_point_accounts(member_id)
            if not accounts:
                return {"items": [], "totalCount": 0}
            account_id = min(accounts, key=lambda a: a.definition_id).id
        page = await self.client.get_point_transactions(
            account_id, filter=TX_FILTERS[filter_], offset=offset, count=count, sort_order="Desc"
        )
        return {"items": [_tx_json(t, language) for t in page.items], "totalCount": page.total_count}


class EngageVouchers:
    def __init__(self, client: EngageClient) -> None:
        self.client = client

    async def vouchers(self, member_id: str, which: str) -> Sequence[Mapping[str, Any]]:
        try:
            found = await self.client.list_all_vouchers(member_id, which)
        except EngageHTTPError as exc:
            if exc.status in (400, 404):
                raise MemberNotFound(str(exc)) from None
            raise
        return [{**voucher_json(v), "redeemed": v.redeemed} for v in found]


def _tx_json(tx: PointTransaction, language: str) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "id": tx.id,
        "amount": number(tx.amount),
        "type": tx.type,
        "description": readable_description(tx.description, language),
        "source": tx.source,
        "transactionDate": iso(tx.transaction_date),
        "validFrom": iso(tx.valid_from),
        "validTo": iso(tx.valid_to),
        "pending": tx.valid_from is not None and tx.valid_from > now,
    }
