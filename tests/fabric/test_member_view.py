"""The member view from fabric, in the shape the POS already knows from Engage."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from posplugin.vendors.fabric.member_view import fetch_view
from posplugin.vendors.fabric.simulator import FabricSimulator

from .conftest import ERIK, client_for


def view(sim: FabricSimulator, location: str, **key: str) -> Any:
    async def main() -> Any:
        async with client_for(sim) as client:
            return await fetch_view(client, location=location, now=time.time(), **key)

    return asyncio.run(main())


def test_card_gives_the_member_view_with_restricted_points_apart(fabric: FabricSimulator) -> None:
    here = view(fabric, "store-001", loyalty_number="8800000000029")
    assert here["contact"] == {"id": ERIK, "firstName": "Erik", "lastName": "Berg", "memberNumber": "8800000000029"}
    assert here["points"]["balance"] == 500
    assert {a["pointType"]: a["balance"] for a in here["points"]["accounts"]} == {
        "Base": 300,
        "Bonus": 150,
        "Promotional": 50,
    }
    assert here["points"]["restricted"] == [
        {"points": 400, "pointType": "Restricted", "location": "store-002", "usableHere": False}
    ]
    assert here["vouchers"] == [] and here["source"] == "live"


def test_at_the_restricted_location_those_points_count(fabric: FabricSimulator) -> None:
    there = view(fabric, "store-002", profile_id=ERIK)
    assert there["points"]["balance"] == 900 and there["points"]["restricted"] == []
    assert there["points"]["restrictedHere"] == 400


def test_an_unknown_card_is_none(fabric: FabricSimulator) -> None:
    assert view(fabric, "store-001", loyalty_number="8800000000999") is None
