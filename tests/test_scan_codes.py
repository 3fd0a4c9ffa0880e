from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.scan_codes import InvalidCode, ScanCode, ScanRules, parse_scan
from posplugin.vendors.engage.ids import is_guid

GUID = "2b4fff30-49b2-5f21-90c6-f247ea8de82a"
ENGAGE = ScanRules(is_member_id=is_guid)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2400000010014\r\n", ScanCode("card", "2400000010014")),
        ("  1000001 ", ScanCode("card", "1000001")),
        ("]E02400000010014", ScanCode("card", "2400000010014")),  # AIM symbology identifier
        ("\x1d1000001\x04", ScanCode("card", "1000001")),  # GS separator, EOT
        (GUID.upper(), ScanCode("contact_id", GUID)),
        (f"https://app.example.com/member/{GUID}?utm=x", ScanCode("contact_id", GUID)),
        (f"myapp://card?contactId={GUID}", ScanCode("contact_id", GUID)),
        ("ＡＢＣ123", ScanCode("card", "ABC123")),  # full-width from an IME
        ("asa.oberg@example.se", ScanCode("card", "asa.oberg@example.se")),  # for lookup_keys = ["email"]
        ("+46701234501", ScanCode("card", "+46701234501")),
    ],
)
def test_accepted_codes(raw: str, expected: ScanCode) -> None:
    assert parse_scan(raw, ENGAGE) == expected


def test_the_core_knows_no_member_id_format_of_its_own() -> None:
    """Without the vendor's format a GUID is just a card number to look up, and a URL carrying one is a web link."""
    assert parse_scan(GUID) == ScanCode("card", GUID)
    with pytest.raises(InvalidCode):
        parse_scan(f"https://app.example.com/member/{GUID}")


def test_prefix_and_suffix_are_stripped_for_cards_only() -> None:
    rules = ScanRules(strip_prefix="99", strip_suffix="X", is_member_id=is_guid)
    assert parse_scan("992400000010014X", rules) == ScanCode("card", "2400000010014")
    assert parse_scan(f"99{GUID}", rules).value == GUID  # a GUID inside wins


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   \r\n",
        "\x00\x01\x02",
        "ab",
        "hello world",
        "https://shop.example.com/offers",
        "å" * 10,
        "x" * 300,
        "'; DROP TABLE--",
        "1000001\x00garbage space",
    ],
)
def test_garbage_is_invalid_code(raw: str) -> None:
    with pytest.raises(InvalidCode):
        parse_scan(raw)


@given(st.text(max_size=600))
def test_any_text_is_either_a_clean_code_or_invalid(raw: str) -> None:
    try:
        code = parse_scan(raw)
    except InvalidCode as exc:
        assert str(exc)
        return
    assert code.value.isascii() and code.value.isprintable() and " " not in code.value
    assert 3 <= len(code.value) <= 64 or code.kind == "contact_id"


@given(st.binary(max_size=300))
def test_garbage_bytes_from_a_serial_port_never_crash(data: bytes) -> None:
    try:
        parse_scan(data.decode("utf-8", errors="replace"))
    except InvalidCode:
        pass
