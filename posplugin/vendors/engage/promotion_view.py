"""A contact's multichannel promotions as the member view shows them: only what the cashier can redeem at this
till — promotions for the POS channel, not redeemed, not expired — with the cash-register instruction.

Engage sends the POS only promotions usable in a physical store and none before their start date [doc]; the
agent still checks channel, redemption and expiry itself, so a list that says more never shows the cashier an
offer Engage would refuse.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ...timestamps import iso
from .client import EngageClient
from .errors import EngageError
from .models import Money, Promotion, PromotionChannel

log = logging.getLogger(__name__)
POS = "POS"
NO_CHANNEL = PromotionChannel("", "", None, None, "", [], "")


def _number(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


def _money(value: Money | None) -> dict[str, Any] | None:
    return {"amount": _number(value.amount), "currency": value.currency} if value else None


def promotion_json(promotion: Promotion, channel: PromotionChannel | None = None) -> dict[str, Any]:
    """One promotion as the member view (and a promotion receipt) shows it, with the value and instruction of
    ``channel`` (default: its POS channel); ``id`` is the assignment's."""
    channel = channel or promotion.channel(POS) or NO_CHANNEL
    return {
        "id": promotion.id,
        "promotionId": promotion.promotion_id,
        "externalId": promotion.external_id or None,
        "name": promotion.name,
        "heading": promotion.heading,
        "description": promotion.description,
        "expiresOn": iso(promotion.expires_on),
        "valueType": channel.value_type or None,
        "value": _money(channel.money),
        "percent": _number(channel.percent) if channel.percent is not None else None,
        "valueText": channel.text or None,
        "localValues": [_money(m) for m in channel.local_values],
        "instruction": channel.instruction,
    }


def usable_at_pos(promotions: Sequence[Promotion], now: float) -> list[dict[str, Any]]:
    """What the cashier may redeem now, soonest to expire first."""
    moment = datetime.fromtimestamp(now, UTC)
    usable = [
        (p, channel)
        for p in promotions
        if (channel := p.channel(POS)) is not None
        and not p.redeemed
        and p.redeemed_on is None
        and (p.expires_on is None or p.expires_on > moment)
    ]
    usable.sort(key=lambda pc: (pc[0].expires_on is None, pc[0].expires_on or moment, pc[0].name))
    return [promotion_json(p, channel) for p, channel in usable]


async def pos_promotions(client: EngageClient, contact_id: str, now: float) -> dict[str, Any]:
    """The view's ``promotions``. Never raises a vendor error: a list that cannot be read leaves the member on
    screen with points and vouchers, and says the offers are unavailable rather than that there are none."""
    try:
        promotions = await client.list_promotions(contact_id, POS)
    except EngageError as exc:
        log.info("promotions not readable for this member: %s", type(exc).__name__)
        return {"promotions": [], "promotionsUnavailable": True}
    return {"promotions": usable_at_pos(promotions, now)}
