"""Receipts decoded back from their bytes: code pages, widths, barcodes, cuts, fallbacks."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posplugin.config import config_from_mapping
from posplugin.receipts.composer import ReceiptComposer
from posplugin.receipts.encoding import CodePageError, code_page
from posplugin.receipts.formatting import mask_number, money, points
from posplugin.receipts.layout import Pair, ReceiptRenderer, Text, pair_lines
from posplugin.receipts.templates import BALANCE, POINT_SHOP, TEST_PAGE, VOUCHER
from tests.receipts.escpos_decoder import decode

VIEW: dict[str, Any] = {
    "contact": {"firstName": "Åsa", "lastName": "Öberg-Ængström", "memberNumber": "1000001"},
    "points": {"balance": 12450, "pending": 300.5},
    "vouchers": [
        {
            "id": "v1",
            "name": "Födelsedagscheck — 50 kr för ÅÄÖ åäö",
            "voucherNumber": "2511233093766",
            "value": {"amount": 195, "currency": "SEK"},
            "localValues": [{"amount": 19.5, "currency": "EUR"}, {"amount": 195, "currency": "NOK"}],
            "expiresOn": "2027-01-21T10:00:00Z",
        },
    ],
}


def service(**printer: Any) -> ReceiptComposer:
    config = config_from_mapping(
        {
            "agent": {"language": printer.pop("language", "sv"), "store_id": "Åre", "till_id": "2"},
            "printer": printer,
            "receipt": {"header": ["Butiken i Åre — välkommen", "Storgatan 1"], "footer": ["Tack för ditt köp! ☕"]},
        }
    )
    return ReceiptComposer(config, lambda: 1.8e9)


def voucher_receipt(svc: ReceiptComposer) -> bytes:
    return svc.renderer.render(VOUCHER, svc.voucher_context(VIEW, VIEW["vouchers"][0]))


@pytest.mark.parametrize("page", ["CP858", "CP865", "CP1252"])
def test_nordic_letters_and_euro_survive(page: str) -> None:
    receipt = decode(voucher_receipt(service(codepage=page)))
    table = code_page("default", page).number
    assert receipt.code_pages == [table] and receipt.inits == 1  # selected explicitly, right after ESC @
    text = receipt.text()
    assert "Åsa Öberg-Ængström" in text or "Åsa Öberg-AEngström" in text
    assert "ÅÄÖ åäö" in text
    assert "19,50 €" in text or (page == "CP865" and "19,50 EUR" in text)
    assert "?" not in text and "\ufffd" not in text


def test_cp865_has_no_euro_and_falls_back_readably() -> None:
    assert code_page("default", "CP865").encode("€") == b"EUR"
    assert code_page("default", "CP858").encode("ø—") == b"\x9b-"
    assert code_page("default", "CP437").encode("Ø ☕ ü") == b"O  \x81"  # no ?, the emoji left out


def test_nothing_is_wider_than_the_paper() -> None:
    for paper, columns in ((58, 32), (80, 48)):
        svc = service(paper_mm=paper)
        for layout, context in (
            (VOUCHER, svc.voucher_context(VIEW, VIEW["vouchers"][0])),
            (BALANCE, svc.balance_context(VIEW)),
            (TEST_PAGE, {**svc.base_context(), "sample_amount": "195,00 kr", "printer_line": "x" * 90}),
        ):
            receipt = decode(svc.renderer.render(layout, context))
            for line in receipt.lines:
                assert len(line.text) * line.width <= columns, (paper, line)


def test_voucher_receipt_has_the_number_as_barcode_and_text_and_a_partial_cut() -> None:
    receipt = decode(voucher_receipt(service()))
    assert receipt.barcodes == [("CODE128", "2511233093766")]
    assert receipt.find("2511233093766").align == "center"
    assert receipt.cuts == ["partial"]
    assert receipt.find("BONUSCHECK").width == 2 and receipt.find("BONUSCHECK").bold
    assert receipt.find("***0001")  # member number masked
    value = receipt.find("195,00 kr")
    assert value.text.endswith("195,00 kr") and len(value.text) == 48  # right-aligned on 80 mm
    assert receipt.find("Giltig t.o.m.").text.endswith("2027-01-21")


def test_english_formats() -> None:
    receipt = decode(voucher_receipt(service(language="en")))
    assert receipt.find("Value").text.endswith("195.00 SEK")
    assert receipt.find("€19.50")
    assert receipt.find("Valid until").text.endswith("21 Jan 2027")


def test_point_shop_receipt_with_qr() -> None:
    svc = service()
    context = {
        **svc.base_context(),
        **svc.member_context(VIEW),
        "item_name": "Kaffe och bulle",
        "points_spent": "300",
        "balance_after": "2 150",
        "purchase_id": "3f8a0c2e-1111-4222-8333-444455556666",
        "instructions": "Visa kvittot i kassan",
        "qr": "PS:3f8a0c2e-1111-4222-8333-444455556666",
    }
    receipt = decode(svc.renderer.render(POINT_SHOP, context))
    assert receipt.qrs == ["PS:3f8a0c2e-1111-4222-8333-444455556666"]
    assert receipt.find("Saldo efter köp").text.endswith("2 150")
    assert receipt.cuts == ["partial"]


def test_balance_slip_lists_vouchers() -> None:
    svc = service()
    receipt = decode(svc.renderer.render(BALANCE, svc.balance_context(VIEW)))
    assert receipt.find("Poäng").text.endswith("12 450")
    assert receipt.find("Väntande poäng").text.endswith("300,5")
    assert receipt.find("195,00 kr")


def test_nv_logo_and_drawer_kick() -> None:
    svc = service()
    svc.renderer.logo = "nv:1"
    assert decode(voucher_receipt(svc)).nv_logos == [1]
    assert decode(svc.renderer.drawer_kick()).pulses == [(0, 50, 50)]


def test_raster_logo_is_scaled_to_the_paper(tmp_path: Any) -> None:
    from PIL import Image

    path = tmp_path / "logo.png"
    Image.new("1", (1200, 200), 0).save(path)
    svc = service(paper_mm=58)
    svc.renderer.logo = str(path)
    rasters = decode(voucher_receipt(svc)).rasters
    assert len(rasters) == 1 and rasters[0][0] <= 384


def test_unknown_code_page_or_profile_is_a_clear_error() -> None:
    with pytest.raises(CodePageError, match="not in profile"):
        code_page("default", "CP999")
    with pytest.raises(CodePageError, match="profile"):
        code_page("no-such-printer", "CP858")


def test_voucher_receipt_is_under_a_kilobyte() -> None:
    assert len(voucher_receipt(service())) <= 1024


def test_formatting() -> None:
    assert money(1234.5, "SEK", "sv") == "1 234,50 kr"
    assert money(19.5, "EUR", "sv") == "19,50 €"
    assert money(19.5, "EUR", "en") == "€19.50"
    assert points(2450, "sv") == "2 450" and points(2450, "en") == "2,450"
    assert mask_number("1000001") == "***0001" and mask_number("12") == "12"


@settings(max_examples=200)
@given(text=st.text(max_size=200), columns=st.integers(16, 64), right=st.text(max_size=20))
def test_any_text_wraps_within_the_columns(text: str, columns: int, right: str) -> None:
    page = code_page("default", "CP858")
    renderer = ReceiptRenderer("default", page, columns, 576)
    right = right.replace("\n", " ")
    receipt = decode(renderer.render((Text("{text}"), Pair("x", "{right}")), {"text": text, "right": right}))
    for line in receipt.lines:
        assert len(line.text) <= columns


@given(left=st.text(min_size=1, max_size=80).filter(lambda s: "\n" not in s), right=st.text(max_size=12))
def test_pair_lines_keep_the_value_flush_right(left: str, right: str) -> None:
    right = right.replace("\n", " ")
    lines = pair_lines(left, right, 32)
    assert all(len(line) <= 32 for line in lines)
    assert lines[-1].endswith(right[:32])


def test_control_characters_in_text_never_reach_the_printer_as_commands() -> None:
    renderer = ReceiptRenderer("default", code_page("default", "CP858"), 16, 576)
    receipt = decode(renderer.render((Text("{t}"),), {"t": "0\x1dw\x1b@x\x10\x04"}))
    assert [line.text for line in receipt.lines if line.text.strip()] == ["0w@x"]


def test_fallbacks_that_lengthen_text_still_fit() -> None:
    renderer = ReceiptRenderer("default", code_page("default", "CP858"), 32, 384)
    receipt = decode(renderer.render((Text("{t}"), Pair("{t}", "1™")), {"t": "…™" * 40}))
    assert all(len(line.text) <= 32 for line in receipt.lines)
    assert "..." in receipt.text() and "(TM)" in receipt.text()
