"""What python-escpos 3.1 does that the receipt layer works around. If an upgrade changes any of this, these
tests say so, and the workaround in ``posplugin/receipts/encoding.py`` can be revisited."""

from __future__ import annotations

from escpos.printer import Dummy

from tests.receipts.escpos_decoder import decode


def test_magic_encoder_switches_code_page_mid_line() -> None:
    printer = Dummy(profile="default")
    printer.text("åäö €\n")
    out = printer.output
    assert out.count(b"\x1bt") == 2  # two tables for one line: CP437 for åäö, another for €
    assert out.startswith(b"\x1bt\x00")  # it picks CP437 by itself, not the configured page


def test_magic_encoder_forgets_nothing_across_init() -> None:
    """After ESC @ the printer is back on its default table, but python-escpos still believes the old one is
    selected and does not send ESC t again: the next å prints as whatever table the printer woke up with."""
    printer = Dummy(profile="default")
    printer.text("å\n")
    printer.hw("INIT")
    printer.text("å\n")
    out = printer.output
    after_init = out.split(b"\x1b@", 1)[1]
    assert b"\x1bt" not in after_init
    # Our decoder models the printer: after ESC @ table 0 is active again, so here it happens to be right only
    # because the magic encoder chose table 0 too. With CP858 configured (table 19) it would not be.
    assert decode(out).lines[1].text == "å"


def test_code128_needs_a_code_set_prefix() -> None:
    printer = Dummy(profile="default")
    try:
        printer.barcode("2511233093766", "CODE128", function_type="B")
    except Exception as exc:  # BarcodeCodeError
        assert "CODE128" in str(exc)
    else:
        raise AssertionError("python-escpos accepted CODE128 data without {B")
    printer.barcode("{B2511233093766", "CODE128", function_type="B")
    assert decode(printer.output).barcodes == [("CODE128", "2511233093766")]


def test_set_with_a_text_size_resends_esc_bang_three_times() -> None:
    printer = Dummy(profile="default")
    printer.set(align="left", bold=False, double_width=False, double_height=False, normal_textsize=True)
    assert printer.output.count(b"\x1b!\x00") == 3  # why the renderer emits only style changes itself
