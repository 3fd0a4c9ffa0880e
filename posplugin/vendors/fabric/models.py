"""Typed views of fabric's ``data``: tolerant of extra and missing fields, with bounded numbers.

A field that is absent or of the wrong type reads as its empty value; only what a caller cannot do without
(a profileId, a redemptionCode) makes the answer a bad one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .errors import FabricBadAnswer

MAX_POINTS = 10**12
MAX_MONEY = Decimal("1e9")
POINT_TYPES = ("Base", "Bonus", "Promotional", "Restricted")
# [assumed] The reward history's creation-time field (not named in the documentation); the first one present wins.
REWARD_CREATED_FIELDS = ("createdAt", "createdOn", "issuedAt", "created")
REWARD_STATUSES = ("Active", "Redeemed", "Cancelled", "Reversed", "Expired")


def points(value: Any) -> int:
    """A points figure, clamped to ±MAX_POINTS; anything unreadable is 0."""
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return 0
    return int(max(-MAX_POINTS, min(MAX_POINTS, int(number))))


def money(value: Any) -> Decimal:
    try:
        number = Decimal(str(value)) if isinstance(value, int | float | str) and not isinstance(value, bool) else None
    except InvalidOperation:
        number = None
    if number is None or not number.is_finite():
        return Decimal(0)
    return max(-MAX_MONEY, min(MAX_MONEY, number)).quantize(Decimal("0.01"))


def text(value: Any, limit: int = 200) -> str:
    return value[:limit] if isinstance(value, str) else (str(value) if isinstance(value, int) else "")


def timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def items(value: Any, *keys: str) -> Sequence[Any]:
    """A list answer, also when wrapped in an object under one of ``keys``."""
    if isinstance(value, list):
        return value
    for key in keys:
        inner = mapping(value).get(key)
        if isinstance(inner, list):
            return inner
    return [value] if isinstance(value, Mapping) and value else []


@dataclass(frozen=True)
class Member:
    profile_id: str
    loyalty_number: str
    first_name: str
    last_name: str
    tier: str
    status: str

    @classmethod
    def from_json(cls, data: Any) -> Member:
        d = mapping(data)
        profile_id = text(d.get("profileId"))
        if not profile_id:
            raise FabricBadAnswer("member without a profileId")
        account = mapping(next(iter(items(d.get("accounts"))), {}))
        return cls(
            profile_id=profile_id,
            loyalty_number=text(d.get("loyaltyNumber") or account.get("loyaltyNumber")),
            first_name=text(d.get("firstName")),
            last_name=text(d.get("lastName")),
            tier=text(account.get("tier") or account.get("tierName")),
            status=text(account.get("status")),
        )


@dataclass(frozen=True)
class RestrictedPoints:
    points: int
    point_type: str
    location: str


@dataclass(frozen=True)
class Balance:
    available: int
    total: int
    by_type: Mapping[str, int]
    restricted: Sequence[RestrictedPoints]

    def usable_at(self, location: str) -> int:
        """Available points that count at ``location``: restricted points elsewhere do not."""
        elsewhere = sum(r.points for r in self.restricted if r.location != location)
        return max(0, self.available - elsewhere)

    @classmethod
    def from_json(cls, data: Any) -> Balance:
        d = mapping(next(iter(items(data)), {}))
        by_type: dict[str, int] = {}
        for entry in items(d.get("pointsByType")):
            e = mapping(entry)
            name = text(e.get("pointType"), 40)
            if name:
                by_type[name] = by_type.get(name, 0) + points(e.get("points"))
        breakdown = mapping(d.get("breakdown"))
        restricted_items = items(mapping(breakdown.get("restrictedPoints")).get("restrictedPointsItems"))
        restricted = tuple(
            RestrictedPoints(points(r.get("points")), text(r.get("pointType"), 40), text(r.get("restrictedLocation")))
            for r in map(mapping, restricted_items)
        )
        balance = mapping(d.get("pointsBalance"))
        total = points(d.get("totalPoints"))
        available = points(balance["memberPointsAvailable"]) if "memberPointsAvailable" in balance else total
        return cls(available=available, total=total, by_type=by_type, restricted=restricted)


@dataclass(frozen=True)
class EarnResult:
    transaction_code: str
    points: int
    base_points: int
    bonus_points: int
    promotional_points: int
    current_balance: int | None
    duplicate: bool = False

    @classmethod
    def from_json(cls, data: Any, duplicate: bool = False) -> EarnResult:
        d = mapping(data)
        current = d.get("currentPointsBalance")
        return cls(
            transaction_code=text(d.get("transactionCode")),
            points=points(d.get("points")),
            base_points=points(d.get("basePoints")),
            bonus_points=points(d.get("bonusPoints")),
            promotional_points=points(d.get("promotionalPoints")),
            current_balance=points(current) if current is not None else None,
            duplicate=duplicate,
        )


@dataclass(frozen=True)
class Reward:
    redemption_code: str
    value: Decimal
    point_cost: int
    name: str
    status: str
    created_at: datetime | None

    @property
    def active(self) -> bool:
        return self.status.lower() == "active"

    @classmethod
    def from_json(cls, data: Any) -> Reward:
        d = mapping(data)
        code = text(d.get("redemptionCode"), 100)
        if not code:
            raise FabricBadAnswer("reward without a redemptionCode")
        created = next((d[k] for k in REWARD_CREATED_FIELDS if d.get(k)), None)
        status = text(d.get("status"), 40)
        known = {s.lower(): s for s in REWARD_STATUSES}
        return cls(
            redemption_code=code,
            value=money(d.get("rewardValue", d.get("value"))),
            point_cost=points(d.get("rewardPointCost", d.get("pointCost"))),
            name=text(d.get("rewardName", d.get("name"))),
            status=known.get(status.lower(), status),
            created_at=timestamp(created),
        )
