"""Receipts as data: a layout is a tuple of blocks with ``{placeholders}``; the renderer turns it into one
ESC/POS byte string, width-aware (wrapping, right-aligned amounts, nothing wider than the paper).

Style, barcode, QR, raster, cut and drawer bytes come from python-escpos (a ``Dummy`` printer with the
configured capability profile); text bytes come from ``encoding.CodePage``.
"""

from __future__ import annotations

import logging
import string
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .encoding import ESC_INIT, CodePage

if TYPE_CHECKING:
    from escpos.printer import Dummy

log = logging.getLogger(__name__)
SIZES = {"normal": (False, False), "wide": (True, False), "tall": (False, True), "double": (True, True)}
ALIGN = {"left": 0, "center": 1, "right": 2}
INITIAL_STYLE = ("left", False, "normal")


@dataclass(frozen=True)
class Text:
    template: str
    align: str = "left"
    bold: bool = False
    size: str = "normal"


@dataclass(frozen=True)
class Pair:
    """A label on the left, a value flush right on the same line (wrapping the label when needed)."""

    left: str
    right: str
    bold: bool = False


@dataclass(frozen=True)
class Rule:
    char: str = "-"


@dataclass(frozen=True)
class Barcode:
    template: str


@dataclass(frozen=True)
class QR:
    template: str
    size: int = 6


@dataclass(frozen=True)
class Feed:
    lines: int = 1


@dataclass(frozen=True)
class Logo:
    pass


@dataclass(frozen=True)
class Each:
    """Render ``blocks`` once per item of the context list ``key`` (items are mappings of placeholders)."""

    key: str
    blocks: tuple[Any, ...]


@dataclass(frozen=True)
class When:
    """Render ``blocks`` only when the context value ``key`` is truthy."""

    key: str
    blocks: tuple[Any, ...]


@dataclass(frozen=True)
class Cut:
    partial: bool = True


Block = Text | Pair | Rule | Barcode | QR | Feed | Logo | Each | When | Cut


class _Blank(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def fill(template: str, context: Mapping[str, Any]) -> str:
    return string.Formatter().vformat(template, (), _Blank(context))


@dataclass
class ReceiptRenderer:
    profile: str
    code_page: CodePage
    columns: int
    paper_dots: int
    logo: str = ""
    _logo_bytes: bytes | None = field(default=None, init=False, repr=False)
    _current: tuple[str, bool, str] = field(default=INITIAL_STYLE, init=False, repr=False)

    def render(self, blocks: Sequence[Block], context: Mapping[str, Any]) -> bytes:
        """One receipt: reset, select the code page explicitly, the blocks, then (per the layout) the cut."""
        self._current = INITIAL_STYLE  # what ESC @ leaves
        printer = self._dummy()
        out = bytearray(ESC_INIT + self.code_page.select)
        self._blocks(blocks, context, printer, out)
        return bytes(out)

    def _dummy(self) -> Dummy:
        from escpos.printer import Dummy  # imported on first use: python-escpos pulls in PIL, qrcode, barcode

        return Dummy(profile=self.profile)

    def drawer_kick(self) -> bytes:
        printer = self._dummy()
        printer.cashdraw(2)
        return bytes(printer.output)

    # ---- blocks ----------------------------------------------------------------------------------------

    def _blocks(self, blocks: Sequence[Block], context: Mapping[str, Any], p: Dummy, out: bytearray) -> None:
        for block in blocks:
            if isinstance(block, Each):
                for item in context.get(block.key) or ():
                    self._blocks(block.blocks, {**context, **item}, p, out)
            elif isinstance(block, When):
                if context.get(block.key):
                    self._blocks(block.blocks, context, p, out)
            else:
                out += self._block(block, context, p)

    def _style(self, p: Dummy, align: str = "left", bold: bool = False, size: str = "normal") -> bytes:
        """Only what changes. python-escpos's ``set()`` with a text size sends ``ESC ! 0`` three times and every
        other attribute again on each call; around every line that doubled a receipt (about 0.5 s at 9600 baud)."""
        wanted = (align, bold, size)
        current = self._current
        self._current = wanted
        out = b""
        if current[0] != align:
            out += b"\x1ba" + bytes([ALIGN[align]])
        if current[1] != bold:
            out += b"\x1bE" + bytes([int(bold)])
        if current[2] != size:
            wide, tall = SIZES[size]
            out += b"\x1d!" + bytes([(0x10 if wide else 0) | (0x01 if tall else 0)])
        return out

    def _block(self, block: Block, context: Mapping[str, Any], p: Dummy) -> bytes:
        if isinstance(block, Text):
            text = self.code_page.printable(fill(block.template, context))
            if not text.strip():
                return b""
            width = self.columns // (2 if SIZES[block.size][0] else 1)
            lines = wrap(text, width)
            body = b"".join(self.code_page.encode(line) + b"\n" for line in lines)
            return self._style(p, block.align, block.bold, block.size) + body
        if isinstance(block, Pair):
            printable = self.code_page.printable
            lines = pair_lines(
                printable(fill(block.left, context)), printable(fill(block.right, context)), self.columns
            )
            body = b"".join(self.code_page.encode(line) + b"\n" for line in lines)
            return self._style(p, "left", block.bold) + body
        if isinstance(block, Rule):
            return self._style(p) + self.code_page.encode(block.char * self.columns) + b"\n"
        if isinstance(block, Feed):
            return b"\n" * block.lines
        if isinstance(block, Barcode):
            return self._barcode(fill(block.template, context), p)
        if isinstance(block, QR):
            value = fill(block.template, context)
            if not value:
                return b""
            p.clear()
            p.qr(value, native=True, size=block.size, center=False)
            return self._style(p, "center") + bytes(p.output) + b"\n"
        if isinstance(block, Logo):
            return self._logo()
        if isinstance(block, Cut):
            p.clear()
            p.cut(mode="PART" if block.partial else "FULL")
            return bytes(p.output)
        raise TypeError(f"unknown block {block!r}")  # pragma: no cover

    def _barcode(self, value: str, p: Dummy) -> bytes:
        """Native CODE128 (set B): 11 modules a character plus 35; the module width shrinks to fit the paper."""
        if not value or not value.isascii() or not value.isprintable():
            return b""
        modules = 11 * len(value) + 35
        module_width = next((w for w in (3, 2, 1) if modules * w <= self.paper_dots), 0)
        if module_width == 0:
            log.warning("barcode of %d characters is too wide for the paper; printed as text only", len(value))
            return b""
        p.clear()
        p.barcode(
            "{B" + value, "CODE128", function_type="B", height=80, width=module_width, pos="BELOW", align_ct=False
        )
        return self._style(p, "center") + bytes(p.output) + b"\n"

    def _logo(self) -> bytes:
        if not self.logo:
            return b""
        if self._logo_bytes is None:
            self._logo_bytes = self._load_logo()
        return self._logo_bytes

    def _load_logo(self) -> bytes:
        if self.logo.startswith("nv:"):
            # Stored in the printer's NV memory: two bytes on the wire instead of kilobytes of raster.
            return b"\x1c\x70" + bytes([int(self.logo[3:]) & 0xFF]) + b"\x00"
        try:
            from PIL import Image

            image: Image.Image = Image.open(Path(self.logo))
            if image.width > self.paper_dots:
                image = image.resize((self.paper_dots, max(1, image.height * self.paper_dots // image.width)))
            p = self._dummy()
            p.image(image, impl="bitImageRaster", center=False)
            return b"\x1ba\x01" + bytes(p.output) + b"\x1ba\x00"  # cached: must not depend on the style state
        except (OSError, ValueError) as exc:
            log.warning("receipt logo %s cannot be used: %s", self.logo, exc)
            return b""


def wrap(text: str, width: int) -> list[str]:
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines += textwrap.wrap(paragraph, width, break_long_words=True, break_on_hyphens=False) or [""]
    return lines


def pair_lines(left: str, right: str, width: int) -> list[str]:
    """``left ...... right`` in ``width`` columns; a long label wraps above the line that carries the value."""
    right = right[:width]
    room = width - len(right) - 1
    if room < 1:
        return [*wrap(left, width), right.rjust(width)]
    wrapped = wrap(left, room) if left else [""]
    head, last = wrapped[:-1], wrapped[-1]
    return [*head, last + " " * (width - len(last) - len(right)) + right]
