"""The receipts the agent prints, as layouts (see ``layout.py``). Texts are per language."""

from __future__ import annotations

from .layout import QR, Barcode, Cut, Each, Feed, Logo, Pair, Rule, Text, When

HEADER = (
    Logo(),
    Each("header", (Text("{line}", align="center", bold=True),)),
    Text("{store_line}", align="center"),
    Text("{printed_at}", align="center"),
    Rule(),
)
FOOTER = (
    Rule(),
    Each("footer", (Text("{line}", align="center"),)),
    Feed(2),
    Cut(),
)
MEMBER = (
    Text("{member_name}", bold=True),
    Pair("{t_member_no}", "{member_number_masked}"),
)

VOUCHER = (
    *HEADER,
    Text("{t_voucher}", align="center", bold=True, size="double"),
    Feed(),
    *MEMBER,
    Rule(),
    Text("{voucher_name}", bold=True),
    Pair("{t_value}", "{voucher_value}", bold=True),
    Each("local_values", (Pair("", "{value}"),)),
    Pair("{t_valid_until}", "{voucher_expires}"),
    Feed(),
    # A used voucher must not scan at another till: its slip says so and has no barcode.
    When("valid", (Barcode("{voucher_number}"),)),
    When("used", (Text("{t_used}", align="center", bold=True, size="double"), Text("{t_used_note}", align="center"))),
    Text("{voucher_number}", align="center"),
    *FOOTER,
)

POINT_SHOP = (
    *HEADER,
    Text("{t_point_shop}", align="center", bold=True, size="double"),
    Feed(),
    *MEMBER,
    Rule(),
    Text("{item_name}", bold=True),
    Pair("{t_points_spent}", "{points_spent}"),
    Pair("{t_balance_after}", "{balance_after}", bold=True),
    Pair("{t_purchase_id}", ""),
    Text("{purchase_id}"),
    When("instructions", (Feed(), Text("{instructions}"))),
    When("qr", (Feed(), QR("{qr}"))),
    *FOOTER,
)

PROMOTION = (
    *HEADER,
    Text("{t_promotion}", align="center", bold=True, size="double"),
    Feed(),
    *MEMBER,
    Rule(),
    Text("{promotion_name}", bold=True),
    Text("{promotion_heading}"),
    When("promotion_value", (Pair("{t_offer}", "{promotion_value}", bold=True),)),
    Each("local_values", (Pair("", "{value}"),)),
    When("promotion_expires", (Pair("{t_valid_until}", "{promotion_expires}"),)),
    When("promotion_description", (Feed(), Text("{promotion_description}"))),
    When("promotion_instruction", (Feed(), Text("{t_instruction}", bold=True), Text("{promotion_instruction}"))),
    # A used offer's slip says so, as a used voucher's does.
    When(
        "used",
        (
            Feed(),
            Text("{t_used}", align="center", bold=True, size="double"),
            Text("{t_promotion_used_note}", align="center"),
        ),
    ),
    Feed(),
    Pair("{t_reference}", ""),
    Text("{assignment_id}"),
    *FOOTER,
)

BALANCE = (
    *HEADER,
    Text("{t_balance_slip}", align="center", bold=True, size="double"),
    Feed(),
    *MEMBER,
    Rule(),
    Pair("{t_points}", "{points_balance}", bold=True),
    Pair("{t_pending}", "{points_pending}"),
    Each("restricted", (Text("{line}"),)),
    # A backend without waiting vouchers (fabric) prints no voucher list, not an empty one.
    When(
        "voucher_list",
        (
            Rule(),
            Text("{t_vouchers}", bold=True),
            Each("vouchers", (Pair("{name}", "{value}"), Pair("  {t_valid_until}", "{expires}"))),
            When("no_vouchers", (Text("{t_no_vouchers}"),)),
        ),
    ),
    *FOOTER,
)

# A reward issued from points and redeemed at the till. Its redemption code is a UUID: too long for a CODE128 that
# scans on 58 mm paper, so it goes as a QR code, and as text for keying in. An undone reward prints without it.
REWARD = (
    *HEADER,
    Text("{t_reward}", align="center", bold=True, size="double"),
    Feed(),
    *MEMBER,
    Rule(),
    Pair("{t_value}", "{reward_amount}", bold=True),
    Pair("{t_redeemed_at}", "{redeemed_at}"),
    Feed(),
    When("valid", (QR("{redemption_code}"),)),
    When(
        "undone",
        (Text("{t_undone}", align="center", bold=True, size="double"), Text("{t_used_note}", align="center")),
    ),
    Text("{t_redemption_code}", align="center"),
    Text("{redemption_code}", align="center"),
    *FOOTER,
)

TEST_PAGE = (
    *HEADER,
    Text("{t_test_page}", align="center", bold=True, size="double"),
    Feed(),
    Text("ÅÄÖ åäö Æ Ø æ ø € é ü"),
    Pair("{t_value}", "{sample_amount}"),
    Text("{printer_line}"),
    Barcode("1234567890"),
    *FOOTER,
)

TEXTS: dict[str, dict[str, str]] = {
    "sv": {
        "t_voucher": "BONUSCHECK",
        "t_point_shop": "POÄNGSHOP",
        "t_balance_slip": "POÄNGSALDO",
        "t_test_page": "TESTUTSKRIFT",
        "t_member_no": "Medlemsnr",
        "t_value": "Värde",
        "t_valid_until": "Giltig t.o.m.",
        "t_points_spent": "Poäng använda",
        "t_balance_after": "Saldo efter köp",
        "t_purchase_id": "Köp-id",
        "t_points": "Poäng",
        "t_pending": "Väntande poäng",
        "t_vouchers": "Bonuscheckar",
        "t_no_vouchers": "Inga bonuscheckar",
        "t_store": "Butik",
        "t_till": "Kassa",
        "t_used": "INLÖST",
        "t_used_note": "Gäller inte som betalning",
        "t_promotion": "ERBJUDANDE",
        "t_offer": "Erbjudande",
        "t_instruction": "I kassan",
        "t_reference": "Referens",
        "t_promotion_used_note": "Kan inte användas igen",
        "t_reward": "BELÖNING",
        "t_redeemed_at": "Inlöst",
        "t_redemption_code": "Inlösenkod",
        "t_undone": "ÅNGRAD",
        "t_restricted": "{points} poäng gäller bara i {location}",
    },
    "en": {
        "t_voucher": "VOUCHER",
        "t_point_shop": "POINT SHOP",
        "t_balance_slip": "POINT BALANCE",
        "t_test_page": "TEST PRINT",
        "t_member_no": "Member no",
        "t_value": "Value",
        "t_valid_until": "Valid until",
        "t_points_spent": "Points spent",
        "t_balance_after": "Balance after",
        "t_purchase_id": "Purchase id",
        "t_points": "Points",
        "t_pending": "Pending points",
        "t_vouchers": "Vouchers",
        "t_no_vouchers": "No vouchers",
        "t_store": "Store",
        "t_till": "Till",
        "t_used": "REDEEMED",
        "t_used_note": "Not valid for payment",
        "t_promotion": "OFFER",
        "t_offer": "Offer",
        "t_instruction": "At the till",
        "t_reference": "Reference",
        "t_promotion_used_note": "Cannot be used again",
        "t_reward": "REWARD",
        "t_redeemed_at": "Redeemed",
        "t_redemption_code": "Redemption code",
        "t_undone": "UNDONE",
        "t_restricted": "{points} points usable only at {location}",
    },
}
