"""A small table-driven ESC/POS decoder, so tests assert on what a printer would do, not on raw bytes.

Each command is (prefix, argument reader, handler). Text bytes are decoded with the code page the stream
selected last (``ESC t n``); ``ESC @`` resets the printer's state *including* the code page (to table 0), which
is exactly the trap the agent must avoid.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# Table numbers → Python codecs, as in python-escpos's default profile.
CODE_PAGES = {0: "cp437", 2: "cp850", 5: "cp865", 16: "cp1252", 18: "cp852", 19: "cp858"}
CUTS = {0: "full", 1: "partial", 48: "full", 49: "partial", 65: "full", 66: "partial"}
BARCODE_TYPES = {73: "CODE128", 67: "EAN13", 69: "CODE39"}


@dataclass
class Line:
    text: str
    bold: bool
    align: str
    width: int  # 1 or 2 (double width)
    height: int


@dataclass
class Receipt:
    lines: list[Line] = field(default_factory=list)
    barcodes: list[tuple[str, str]] = field(default_factory=list)
    qrs: list[str] = field(default_factory=list)
    cuts: list[str] = field(default_factory=list)
    pulses: list[tuple[int, int, int]] = field(default_factory=list)
    rasters: list[tuple[int, int]] = field(default_factory=list)  # (width dots, height dots)
    nv_logos: list[int] = field(default_factory=list)
    code_pages: list[int] = field(default_factory=list)
    inits: int = 0
    unknown: list[bytes] = field(default_factory=list)

    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    def find(self, needle: str) -> Line:
        for line in self.lines:
            if needle in line.text:
                return line
        raise AssertionError(f"{needle!r} not printed; lines: {[line.text for line in self.lines]}")


@dataclass
class _State:
    code_page: int = 0
    bold: bool = False
    align: str = "left"
    width: int = 1
    height: int = 1
    buffer: bytearray = field(default_factory=bytearray)


Handler = Callable[[bytes, int, Receipt, _State], int]  # (data, position after prefix, ...) → new position


def _flush(receipt: Receipt, state: _State) -> None:
    text = bytes(state.buffer).decode(CODE_PAGES.get(state.code_page, "cp437"), errors="replace")
    receipt.lines.append(Line(text, state.bold, state.align, state.width, state.height))
    state.buffer.clear()


def _init(data: bytes, i: int, r: Receipt, s: _State) -> int:
    r.inits += 1
    s.code_page, s.bold, s.align, s.width, s.height = 0, False, "left", 1, 1
    return i


def _code_page(data: bytes, i: int, r: Receipt, s: _State) -> int:
    s.code_page = data[i]
    r.code_pages.append(data[i])
    return i + 1


def _bold(data: bytes, i: int, r: Receipt, s: _State) -> int:
    s.bold = bool(data[i] & 1)
    return i + 1


def _align(data: bytes, i: int, r: Receipt, s: _State) -> int:
    s.align = {0: "left", 1: "center", 2: "right", 48: "left", 49: "center", 50: "right"}[data[i]]
    return i + 1


def _size(data: bytes, i: int, r: Receipt, s: _State) -> int:
    s.width, s.height = (data[i] >> 4) + 1, (data[i] & 0x0F) + 1
    return i + 1


def _mode(data: bytes, i: int, r: Receipt, s: _State) -> int:  # ESC ! n
    n = data[i]
    s.bold, s.width, s.height = bool(n & 0x08), 2 if n & 0x20 else 1, 2 if n & 0x10 else 1
    return i + 1


def _skip(count: int) -> Handler:
    return lambda data, i, r, s: i + count


def _feed_lines(data: bytes, i: int, r: Receipt, s: _State) -> int:  # ESC d n
    return i + 1


def _barcode(data: bytes, i: int, r: Receipt, s: _State) -> int:  # GS k m n d1..dn (m ≥ 65)
    kind, length = data[i], data[i + 1]
    payload = data[i + 2 : i + 2 + length].decode("ascii")
    if kind == 73 and payload.startswith("{"):
        payload = payload[2:]  # CODE128 code-set selector
    r.barcodes.append((BARCODE_TYPES.get(kind, str(kind)), payload))
    return i + 2 + length


def _gs_paren_k(data: bytes, i: int, r: Receipt, s: _State) -> int:  # GS ( k pL pH cn fn ...
    length = data[i] + 256 * data[i + 1]
    body = data[i + 2 : i + 2 + length]
    if body[:2] == b"1P":  # QR: store data
        r.qrs.append(body[3:].decode("utf-8"))
    return i + 2 + length


def _cut(data: bytes, i: int, r: Receipt, s: _State) -> int:  # GS V m [n]
    m = data[i]
    r.cuts.append(CUTS.get(m, f"mode {m}"))
    return i + (2 if m in (65, 66) else 1)


def _pulse(data: bytes, i: int, r: Receipt, s: _State) -> int:  # ESC p m t1 t2
    r.pulses.append((data[i], data[i + 1], data[i + 2]))
    return i + 3


def _raster(data: bytes, i: int, r: Receipt, s: _State) -> int:  # GS v 0 m xL xH yL yH d...
    x_bytes = data[i + 1] + 256 * data[i + 2]
    y = data[i + 3] + 256 * data[i + 4]
    r.rasters.append((x_bytes * 8, y))
    return i + 5 + x_bytes * y


def _nv_logo(data: bytes, i: int, r: Receipt, s: _State) -> int:  # FS p n m
    r.nv_logos.append(data[i])
    return i + 2


COMMANDS: list[tuple[bytes, Handler]] = [
    (b"\x1b@", _init),
    (b"\x1bt", _code_page),
    (b"\x1bE", _bold),
    (b"\x1ba", _align),
    (b"\x1d!", _size),
    (b"\x1b!", _mode),
    (b"\x1bd", _feed_lines),
    (b"\x1b-", _skip(1)),
    (b"\x1bM", _skip(1)),
    (b"\x1b{", _skip(1)),
    (b"\x1dB", _skip(1)),
    (b"\x1db", _skip(1)),
    (b"\x1dh", _skip(1)),
    (b"\x1dw", _skip(1)),
    (b"\x1df", _skip(1)),
    (b"\x1dH", _skip(1)),
    (b"\x1dk", _barcode),
    (b"\x1d(k", _gs_paren_k),
    (b"\x1dV", _cut),
    (b"\x1bp", _pulse),
    (b"\x1dv0", _raster),
    (b"\x1cp", _nv_logo),
]


def decode(data: bytes) -> Receipt:
    receipt, state = Receipt(), _State()
    i = 0
    while i < len(data):
        byte = data[i]
        if byte == 0x0A:
            _flush(receipt, state)
            i += 1
            continue
        if byte in (0x1B, 0x1D, 0x1C, 0x10):
            for prefix, handler in sorted(COMMANDS, key=lambda c: -len(c[0])):
                if data.startswith(prefix, i):
                    i = handler(data, i + len(prefix), receipt, state)
                    break
            else:
                receipt.unknown.append(data[i : i + 3])
                i += 1
            continue
        state.buffer.append(byte)
        i += 1
    if state.buffer:
        _flush(receipt, state)
    return receipt
