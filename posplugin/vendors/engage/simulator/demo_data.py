"""Seeded demo data: a handful of Nordic members with cards, points, vouchers, promotions and point-shop items
(buying one assigns its promotion).

Ids are derived with uuid5 so they are the same on every run (README and tests can name them).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

from .promotions import PromotionTemplate, SimChannel
from .state import Contact, ShopItem, SimState, Voucher

NAMESPACE = uuid.UUID("8c6f7a52-3d7b-4c1e-9a55-2f1f0c3e9d10")


def demo_id(name: str) -> str:
    return str(uuid.uuid5(NAMESPACE, name))


@dataclass(frozen=True)
class DemoMember:
    key: str
    first: str
    last: str
    member_number: str
    card: str
    email: str
    phone: str
    balance: float
    pending: float


MEMBERS = (
    DemoMember("asa", "Åsa", "Öberg", "1000001", "2400000010014", "asa.oberg@example.se", "+46701234501", 2450, 300),
    DemoMember("bjorn", "Björn", "Ängström", "1000002", "2400000010021", "bjorn@example.se", "+46701234502", 120, 0),
    DemoMember("marta", "Märta", "Lindqvist", "1000003", "2400000010038", "marta@example.se", "+46701234503", 9800, 0),
    DemoMember("soren", "Søren", "Ødegård", "1000004", "2400000010045", "soren@example.dk", "+4520123404", 0, 1500),
    DemoMember("aino", "Aino", "Järvinen", "1000005", "2400000010052", "aino@example.fi", "+358401234505", 640, 60),
)


def member_id(key: str) -> str:
    return demo_id(f"contact:{key}")


def voucher_id(key: str, n: int) -> str:
    return demo_id(f"voucher:{key}:{n}")


def item_id(key: str) -> str:
    return demo_id(f"item:{key}")


def promotion_id(key: str) -> str:
    return demo_id(f"promotion:{key}")


def assignment_id(member: str, promotion: str) -> str:
    return demo_id(f"assignment:{member}:{promotion}")


# Promotions: (key, name, heading, description, channels). A point-shop item's promotion has the item's key.
PROMOTIONS: tuple[tuple[str, str, str, str, tuple[SimChannel, ...]], ...] = (
    (
        "spring20",
        "Vårerbjudande 20 %",
        "20 % på en valfri vara",
        "Gäller en vara till ordinarie pris.",
        (
            SimChannel("POS", "PERCENT", 20, "Ge 20 % rabatt på en vara till ordinarie pris."),
            SimChannel("ECOM", "PERCENT", 20),
        ),
    ),
    (
        "fifty",
        "50 kr rabatt",
        "50 kr av vid köp över 300 kr",
        "Gäller ett köp på minst 300 kr.",
        (SimChannel("POS", "MONEY", (50, "SEK"), "Dra av 50 kr från köp på minst 300 kr.", [("EUR", 4.5)]),),
    ),
    (
        "webfreight",
        "Fri frakt",
        "Fri frakt på webben",
        "Gäller i webbutiken.",
        (SimChannel("ECOM", "EXTERNALOFFER", "FRIFRAKT"),),  # not for the till: never on the POS list
    ),
    (
        "coffee",
        "Kaffe och bulle",
        "Kaffe och bulle från poängshopen",
        "Hämtas i kassan.",
        (SimChannel("POS", "EXTERNALOFFER", "Kaffe och bulle", "Lämna ut kaffe och bulle utan kostnad."),),
    ),
    (
        "tote",
        "Tygkasse",
        "Tygkasse från poängshopen",
        "Visa kvittot i kassan.",
        (SimChannel("POS", "MANUAL", "Tygkasse", "Lämna ut en tygkasse i ekologisk bomull."),),
    ),
    (
        "spa",
        "Spadag för två",
        "Spadag för två från poängshopen",
        "Bokas på hemsidan.",
        (SimChannel("ECOM", "EXTERNALOFFER", "Spadag"),),
    ),
)
# Assignments: (member, promotion, days until it expires; negative = already ended, None = redeemed elsewhere).
ASSIGNMENTS: tuple[tuple[str, str, int | None], ...] = (
    ("asa", "spring20", 14),
    ("asa", "fifty", 30),
    ("asa", "webfreight", 30),
    ("asa", "coffee", -2),  # ended: the till never shows it
    ("bjorn", "spring20", None),  # used in the web shop: the till never shows it
    ("marta", "fifty", 45),
)


def seed_demo_data(state: SimState) -> SimState:
    now = state.now()
    for m in MEMBERS:
        state.add_contact(
            Contact(member_id(m.key), m.first, m.last, m.member_number, m.email, m.phone, cards=[m.card]),
            balance=m.balance,
            pending=m.pending,
        )
    vouchers: list[tuple[str, int, str, float, str, list[tuple[str, float]], int, int]] = [
        ("asa", 1, "Bonuscheck 195 kr", 195, "SEK", [("NOK", 195), ("EUR", 19.5)], 60, 4869),
        ("asa", 2, "Födelsedagscheck 50 kr", 50, "SEK", [("EUR", 4.5)], 20, 0),
        ("asa", 3, "Bonuscheck 100 kr", 100, "SEK", [], -3, 2500),  # already expired
        ("bjorn", 1, "Bonuscheck 100 kr", 100, "SEK", [("EUR", 9)], 90, 2500),
        ("marta", 1, "Bonuscheck 500 kr", 500, "SEK", [("EUR", 45), ("NOK", 500)], 120, 12500),
        ("marta", 2, "Bonuscheck 200 kr", 200, "SEK", [], 30, 5000),
        ("soren", 1, "Bonuscheck 19,50 €", 19.5, "EUR", [("SEK", 215)], 45, 1950),
        ("aino", 1, "Bonussekki 10 €", 10, "EUR", [], 10, 1000),
    ]
    for index, (key, n, name, amount, currency, local, days, points) in enumerate(vouchers):
        vid = voucher_id(key, n)
        state.vouchers[vid] = Voucher(
            vid,
            member_id(key),
            f"25112330{93766 + index:05d}",
            name,
            amount,
            currency,
            now + timedelta(days=days),
            points,
            local,
        )
    items = [
        ("coffee", "Kaffe och bulle", 300, "Hämtas i kassan", None, 30),
        ("tote", "Tygkasse i ekologisk bomull", 1200, "Visa kvittot i kassan", None, 60),
        ("spa", "Spadag för två", 15000, "Bokas på hemsidan", None, 90),
        ("xmas", "Julklappsinslagning", 100, "Gäller i december", -60, -1),  # outside its window: hidden
    ]
    for key, name, heading, description, channels in PROMOTIONS:
        state.promotions.add_template(PromotionTemplate(promotion_id(key), name, heading, description, list(channels)))
    for member, key, expires_in in ASSIGNMENTS:
        assigned = state.promotions.assign(
            member_id(member), promotion_id(key), assignment_id(member, key), now + timedelta(days=expires_in or 10)
        )
        if expires_in is None:
            assigned.redeemed_on, assigned.redeemed_channel = now - timedelta(days=1), "ECOM"
    for key, name, cost, description, start_days, end_days in items:
        iid = item_id(key)
        state.items[iid] = ShopItem(
            iid,
            name,
            cost,
            1,
            now + timedelta(days=start_days) if start_days is not None else now - timedelta(days=1),
            now + timedelta(days=end_days),
            description,
            promotion_id=promotion_id(key),
        )
    return state


BULK_CONTACT = "bulk"


def bulk_voucher_id(n: int) -> str:
    return demo_id(f"bulk-voucher:{n}")


def seed_bulk_vouchers(state: SimState, count: int) -> SimState:
    """One extra member holding ``count`` vouchers: for benchmarks and soak runs."""
    if count <= 0:
        return state
    contact = state.add_contact(Contact(member_id(BULK_CONTACT), "Bulk", "Bänk", "1999999", cards=["2499999999999"]))
    now = state.now()
    for n in range(count):
        vid = bulk_voucher_id(n)
        state.vouchers[vid] = Voucher(
            vid, contact.id, f"99{n:011d}", "Bonuscheck 10 kr", 10, "SEK", now + timedelta(days=30), 250
        )
    return state
