"""The agent's member view (``MemberView`` of the local API) from Engage's contact, point accounts and vouchers."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from ...timestamps import iso
from .models import Contact, Money, PointAccount, Voucher


def number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def money_json(value: Money | None) -> dict[str, Any] | None:
    return {"amount": number(value.amount), "currency": value.currency} if value else None


def voucher_json(v: Voucher) -> dict[str, Any]:
    """A voucher as the member view (and a voucher receipt) shows it."""
    return {
        "id": v.id,
        "voucherNumber": v.voucher_number,
        "name": v.name,
        "value": money_json(v.value),
        "localValues": [money_json(m) for m in v.local_values],
        "expiresOn": iso(v.expires_on),
        "points": number(v.points) if v.points is not None else None,
    }


def build_view(
    contact: Contact, accounts: Sequence[PointAccount], vouchers: Sequence[Voucher], now: float
) -> dict[str, Any]:
    return {
        "contact": {
            "id": contact.id,
            "firstName": contact.first_name,
            "lastName": contact.last_name,
            "memberNumber": contact.member_number,
        },
        "points": {
            "balance": number(sum((a.balance for a in accounts), Decimal(0))),
            "pending": number(sum((a.pending_points for a in accounts), Decimal(0))),
            "accounts": [
                {
                    "id": a.id,
                    "definitionId": a.definition_id,
                    "balance": number(a.balance),
                    "pendingPoints": number(a.pending_points),
                    "balanceExpires": iso(a.balance_expires),
                }
                for a in sorted(accounts, key=lambda a: a.definition_id)
            ],
        },
        "vouchers": [voucher_json(v) for v in vouchers if not v.redeemed],
        "source": "live",
        "fetchedAt": iso(now),
    }
