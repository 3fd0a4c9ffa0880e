"""Embedded Engage simulator: a real HTTP server with the vendor's semantics, for the demo and the tests."""

from ...faults import FaultPlan, FaultRule
from .demo_data import (
    MEMBERS,
    assignment_id,
    bulk_voucher_id,
    item_id,
    member_id,
    promotion_id,
    seed_bulk_vouchers,
    seed_demo_data,
    voucher_id,
)
from .server import EngageSimulator
from .state import SimError, SimSettings, SimState

__all__ = [
    "MEMBERS",
    "EngageSimulator",
    "FaultPlan",
    "FaultRule",
    "SimError",
    "SimSettings",
    "SimState",
    "assignment_id",
    "bulk_voucher_id",
    "item_id",
    "member_id",
    "promotion_id",
    "seed_bulk_vouchers",
    "seed_demo_data",
    "voucher_id",
]
