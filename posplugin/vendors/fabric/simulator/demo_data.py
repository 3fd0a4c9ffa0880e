"""Demo members for the fabric simulator: card numbers like 8800000000011, points by type, one restricted."""

from __future__ import annotations

from .state import FabricState, MemberRecord

DEMO_LOCATION = "store-001"


def seed_demo_data(state: FabricState) -> FabricState:
    state.add_member(
        MemberRecord("c7a1e0f2-5b1d-4f3e-9a51-000000000011", "8800000000011", "Anna", "Lind", {"Base": 1200})
    )
    state.add_member(
        MemberRecord(
            "c7a1e0f2-5b1d-4f3e-9a51-000000000029",
            "8800000000029",
            "Erik",
            "Berg",
            {"Base": 300, "Bonus": 150, "Promotional": 50},
            [(400, "store-002")],  # counts only at store-002, shown apart at every other store
        )
    )
    state.add_member(MemberRecord("c7a1e0f2-5b1d-4f3e-9a51-000000000037", "8800000000037", "Sara", "Ek", {"Base": 20}))
    return state
