"""The agent's member view (the shape ``POST /api/v1/identify`` returns for Engage) from fabric's member and
balance: ``contact.id`` = profileId, ``memberNumber`` = loyaltyNumber, ``points.balance`` = the points usable at
this store, accounts per point type, and restricted points that count only at other locations shown apart."""

from __future__ import annotations

from typing import Any

from ...timestamps import iso
from .client import FabricClient
from .models import Balance, Member


def build_view(member: Member, balance: Balance, location: str, now: float) -> dict[str, Any]:
    return {
        "contact": {
            "id": member.profile_id,
            "firstName": member.first_name,
            "lastName": member.last_name,
            "memberNumber": member.loyalty_number,
        },
        "points": {
            "balance": balance.usable_at(location),
            "pending": 0,
            "accounts": [
                {"id": kind, "pointType": kind, "balance": value}
                for kind, value in balance.by_type.items()
                if kind != "Restricted"
            ],
            "restricted": [
                {"points": r.points, "pointType": r.point_type, "location": r.location, "usableHere": False}
                for r in balance.restricted
                if r.location != location
            ],
            "restrictedHere": sum(r.points for r in balance.restricted if r.location == location),
        },
        "vouchers": [],  # fabric keeps no waiting vouchers: rewards are issued from points on demand
        "source": "live",
        "fetchedAt": iso(now),
    }


async def fetch_view(
    client: FabricClient,
    *,
    location: str,
    now: float,
    loyalty_number: str | None = None,
    profile_id: str | None = None,
) -> dict[str, Any] | None:
    """The member's view, or None when fabric knows no such member."""
    member = await client.find_member(loyalty_number=loyalty_number, profile_id=profile_id)
    if member is None:
        return None
    return build_view(member, await client.balance(member.profile_id), location, now)
