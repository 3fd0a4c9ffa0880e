"""Typed views of Engage payloads.

Parsers accept unknown fields, either casing of the first letter (the seeds show both ``items`` and ``Items``),
ids as numbers or strings, and 7-digit fractions. A field with the wrong type becomes ``None``/default; an
object that is not an object at all raises ``EngageBadResponse`` so callers never crash on nonsense.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Generic, TypeVar

from .errors import EngageBadResponse
from .timeparse import parse_engage_datetime

T = TypeVar("T")


def _get(obj: Mapping[str, Any], name: str) -> Any:
    if name in obj:
        return obj[name]
    return obj.get(name[:1].upper() + name[1:])


def _text(obj: Mapping[str, Any], name: str) -> str | None:
    value = _get(obj, name)
    if isinstance(value, str):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


MAX_DIGITS = 15  # integer digits: |value| < 10^15
MAX_NUMBER_TEXT = 64


def _decimal(obj: Mapping[str, Any], name: str) -> Decimal | None:
    value = _get(obj, name)
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    text = str(value)
    if len(text) > MAX_NUMBER_TEXT:
        return None
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    # Points and amounts are far below 10^15; "1e1000000" is a bug or an attack, and would become an integer
    # of a million digits that nothing downstream can print.
    return result if result.is_finite() and result.adjusted() < MAX_DIGITS else None


def _int(obj: Mapping[str, Any], name: str) -> int | None:
    value = _decimal(obj, name)
    return int(value) if value is not None and value == value.to_integral_value() else None


def _bool(obj: Mapping[str, Any], name: str) -> bool:
    return _get(obj, name) is True


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise EngageBadResponse(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _id(obj: Mapping[str, Any], what: str) -> str:
    value = _text(obj, "id")
    if not value:
        raise EngageBadResponse(f"{what}: missing id")
    return value


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total_count: int
    offset: int
    count: int


def parse_page(data: Any, parse_item: Callable[[Any], T], what: str) -> Page[T]:
    """A paged object ``{items, totalCount, offset, count}`` or a bare array (both seen in the wild)."""
    if isinstance(data, list):
        items = [parse_item(x) for x in data]
        return Page(items, len(items), 0, len(items))
    obj = _object(data, what)
    raw_items = _get(obj, "items")
    if raw_items is None:
        raw_items = []
    if not isinstance(raw_items, list):
        raise EngageBadResponse(f"{what}: items is not a list")
    items = [parse_item(x) for x in raw_items]
    total = _int(obj, "totalCount")
    count = _int(obj, "count")
    return Page(
        items=items,
        total_count=total if total is not None else len(items),
        offset=_int(obj, "offset") or 0,
        count=count if count is not None else len(items),
    )


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def from_json(cls, data: Any) -> Money | None:
        if not isinstance(data, Mapping):
            return None
        amount = _decimal(data, "amount")
        currency = _text(data, "currency")
        if amount is None or not currency:
            return None
        return cls(amount, currency.upper())


@dataclass(frozen=True)
class Contact:
    id: str
    first_name: str
    last_name: str
    member_number: str

    @classmethod
    def from_json(cls, data: Any) -> Contact:
        obj = _object(data, "contact")
        attributes = _get(obj, "attributes")
        attrs: Mapping[str, Any] = attributes if isinstance(attributes, Mapping) else {}

        def pick(name: str) -> str:
            return _text(attrs, name) or _text(obj, name) or ""

        return cls(
            id=_id(obj, "contact"),
            first_name=pick("firstName"),
            last_name=pick("lastName"),
            member_number=pick("memberNumber") or pick("externalId"),
        )


@dataclass(frozen=True)
class PointAccount:
    id: str
    definition_id: int
    balance: Decimal
    pending_points: Decimal
    balance_expires: datetime | None
    contact_id: str

    @classmethod
    def from_json(cls, data: Any) -> PointAccount:
        obj = _object(data, "point account")
        return cls(
            id=_id(obj, "point account"),
            definition_id=_int(obj, "definitionId") or 0,
            balance=_decimal(obj, "balance") or Decimal(0),
            pending_points=_decimal(obj, "pendingPoints") or Decimal(0),
            balance_expires=parse_engage_datetime(_get(obj, "balanceExpires")),
            contact_id=_text(obj, "contactId") or "",
        )


@dataclass(frozen=True)
class PointTransaction:
    id: str
    account_id: str
    amount: Decimal
    type: str
    description: str
    source: str
    transaction_date: datetime | None
    valid_from: datetime | None
    valid_to: datetime | None

    @classmethod
    def from_json(cls, data: Any) -> PointTransaction:
        obj = _object(data, "point transaction")
        return cls(
            id=_id(obj, "point transaction"),
            account_id=_text(obj, "accountId") or "",
            amount=_decimal(obj, "amount") or Decimal(0),
            type=_text(obj, "type") or _text(obj, "transactionType") or "",
            description=_text(obj, "description") or "",
            source=_text(obj, "source") or "",
            transaction_date=parse_engage_datetime(_get(obj, "transactionDate")),
            valid_from=parse_engage_datetime(_get(obj, "validFrom")),
            valid_to=parse_engage_datetime(_get(obj, "validTo")),
        )


@dataclass(frozen=True)
class PointDefinition:
    id: int
    name: str
    description: str

    @classmethod
    def from_json(cls, data: Any) -> PointDefinition:
        obj = _object(data, "point definition")
        ident = _int(obj, "id")
        if ident is None:
            raise EngageBadResponse("point definition: missing id")
        return cls(ident, _text(obj, "name") or "", _text(obj, "description") or "")


@dataclass(frozen=True)
class Voucher:
    id: str
    voucher_number: str
    name: str
    redeemed: bool
    redeemed_on: datetime | None
    expires_on: datetime | None
    value: Money | None
    local_values: list[Money] = field(default_factory=list)
    points: Decimal | None = None

    @classmethod
    def from_json(cls, data: Any) -> Voucher:
        obj = _object(data, "reward voucher")
        local = _get(obj, "localValues")
        return cls(
            id=_id(obj, "reward voucher"),
            voucher_number=_text(obj, "voucherNumber") or "",
            name=_text(obj, "name") or "",
            redeemed=_bool(obj, "redeemed"),
            redeemed_on=parse_engage_datetime(_get(obj, "redeemedOn")),
            expires_on=parse_engage_datetime(_get(obj, "expiresOn")),
            value=Money.from_json(_get(obj, "value")),
            local_values=[m for m in (Money.from_json(x) for x in (local if isinstance(local, list) else [])) if m],
            points=_decimal(obj, "points"),
        )


@dataclass(frozen=True)
class PointShopItem:
    id: str
    name: str
    cost: int
    point_definition_id: int
    promotion_id: str
    valid_from: datetime | None
    valid_to: datetime | None
    title: str
    description: str
    image_url: str

    @classmethod
    def from_json(cls, data: Any) -> PointShopItem:
        obj = _object(data, "point shop item")
        presentation = _get(obj, "presentation")
        pres: Mapping[str, Any] = presentation if isinstance(presentation, Mapping) else {}
        return cls(
            id=_id(obj, "point shop item"),
            name=_text(obj, "name") or "",
            cost=_int(obj, "cost") or 0,
            point_definition_id=_int(obj, "pointDefinitionId") or 1,
            promotion_id=_text(obj, "promotionId") or "",
            valid_from=parse_engage_datetime(_get(obj, "validFrom")),
            valid_to=parse_engage_datetime(_get(obj, "validTo")),
            title=_text(pres, "title") or _text(obj, "name") or "",
            description=_text(pres, "description") or "",
            image_url=_text(pres, "imageUrl") or "",
        )


@dataclass(frozen=True)
class PointShopPurchase:
    id: str
    item_id: str
    name: str
    cost: int
    status: str
    created_on: datetime | None
    promotion_id: str

    @classmethod
    def from_json(cls, data: Any) -> PointShopPurchase:
        obj = _object(data, "point shop purchase")
        ident = _text(obj, "pointShopItemPurchaseId") or _text(obj, "id")
        if not ident:
            raise EngageBadResponse("point shop purchase: missing id")
        return cls(
            id=ident,
            item_id=_text(obj, "pointShopItemId") or _text(obj, "itemId") or "",
            name=_text(obj, "name") or "",
            cost=_int(obj, "cost") or 0,
            status=_text(obj, "status") or "",
            created_on=parse_engage_datetime(_get(obj, "createdOn")),
            promotion_id=_text(obj, "promotionId") or "",
        )


PROMOTION_CHANNELS = ("POS", "ECOM", "OTHER")


@dataclass(frozen=True)
class PromotionChannel:
    """Where and how a multichannel promotion is redeemed. ``value`` depends on ``value_type`` [doc, v2]: MONEY is
    a money object, PERCENT a whole number, EXTERNALOFFER / MANUAL / SWIPE a text (the offer in words)."""

    type: str
    value_type: str
    money: Money | None
    percent: Decimal | None
    text: str
    local_values: list[Money]
    instruction: str

    @classmethod
    def from_json(cls, data: Any) -> PromotionChannel | None:
        if not isinstance(data, Mapping):
            return None
        value_type = (_text(data, "valueType") or "").upper()
        raw = _get(data, "value")
        money = Money.from_json(raw) if value_type == "MONEY" else None
        percent = _decimal({"value": raw}, "value") if value_type == "PERCENT" else None
        text = "" if money is not None or percent is not None else (_text({"value": raw}, "value") or "")
        local = _get(data, "localValues")
        return cls(
            type=(_text(data, "type") or "").upper(),
            value_type=value_type,
            money=money,
            percent=percent,
            text=text,
            local_values=[m for m in (Money.from_json(x) for x in (local if isinstance(local, list) else [])) if m],
            instruction=_text(data, "instruction") or "",
        )


@dataclass(frozen=True)
class Promotion:
    """A multichannel promotion assigned to a contact. ``id`` is the assignment's own id (what redeem takes),
    ``promotion_id`` the promotion it is an assignment of."""

    id: str
    promotion_id: str
    external_id: str
    type: str
    name: str
    heading: str
    description: str
    expires_on: datetime | None
    redeemed: bool
    redeemed_on: datetime | None
    channels: list[PromotionChannel] = field(default_factory=list)

    def channel(self, kind: str) -> PromotionChannel | None:
        return next((c for c in self.channels if c.type == kind), None)

    @classmethod
    def from_json(cls, data: Any) -> Promotion:
        obj = _object(data, "promotion")
        channels = _get(obj, "redemptionChannels")
        return cls(
            id=_id(obj, "promotion"),
            promotion_id=_text(obj, "promotionId") or "",
            external_id=_text(obj, "externalId") or "",
            type=_text(obj, "type") or "",
            name=_text(obj, "name") or "",
            heading=_text(obj, "heading") or "",
            description=_text(obj, "description") or "",
            expires_on=parse_engage_datetime(_get(obj, "expiresOn")),
            redeemed=_bool(obj, "redeemed"),
            redeemed_on=parse_engage_datetime(_get(obj, "redeemedOn")),
            channels=[
                c
                for c in (PromotionChannel.from_json(x) for x in (channels if isinstance(channels, list) else []))
                if c is not None
            ],
        )


@dataclass(frozen=True)
class BulkResult:
    """What the bulk point-transaction endpoint said about one chunk."""

    accepted: int
    not_accepted: list[Any]
    error_messages: list[str]
    missing_definition_ids: list[Any]
    missing_contact_ids: list[Any]

    @classmethod
    def from_json(cls, data: Any, sent: int) -> BulkResult:
        obj: Mapping[str, Any] = data if isinstance(data, Mapping) else {}

        def listed(name: str) -> list[Any]:
            value = _get(obj, name)
            return list(value) if isinstance(value, list) else []

        not_accepted = listed("notAccepted")
        return cls(
            accepted=sent - len(not_accepted),
            not_accepted=not_accepted,
            error_messages=[str(x) for x in listed("errorMessages")],
            missing_definition_ids=listed("missingDefinitionIds"),
            missing_contact_ids=listed("missingContactIds"),
        )


@dataclass(frozen=True)
class PostResult:
    """A successful POST: the parsed body (if any) and Engage's clock from the ``Date`` header."""

    status: int
    body: Any
    server_date: datetime | None
