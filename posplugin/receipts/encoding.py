"""Text for the printer's code page, chosen explicitly.

python-escpos 3.1's automatic encoder switches code pages mid-line and does not forget its code page across
``ESC @`` (tests/receipts/test_escpos_characterisation.py pins both). So receipts select the configured table
with ``ESC t n`` themselves, at the start and after every ``ESC @``, and encode text here. A character the page
lacks becomes a readable stand-in (ø → o, — → -), never ``?`` and never an exception.
"""

from __future__ import annotations

import codecs
import unicodedata
from dataclasses import dataclass

ESC_INIT = b"\x1b@"
FALLBACKS = {
    "ø": "o",
    "Ø": "O",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "ß": "ss",
    "ð": "d",
    "Ð": "D",
    "þ": "th",
    "Þ": "Th",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "—": "-",
    "–": "-",
    "‐": "-",
    "−": "-",
    "‘": "'",
    "’": "'",
    "‚": ",",
    "“": '"',
    "”": '"',
    "„": '"',
    "«": '"',
    "»": '"',
    "…": "...",
    "•": "*",
    "·": ".",
    "€": "EUR",
    "£": "GBP",
    "™": "(TM)",
    "©": "(C)",
    "®": "(R)",
    "\u00a0": " ",
    "\u202f": " ",
    "\u2009": " ",
    "\t": " ",
}


class CodePageError(ValueError):
    pass


@dataclass(frozen=True)
class CodePage:
    name: str  # e.g. "CP858"
    number: int  # the profile's table number for ESC t n
    codec: str  # Python's codec name

    @property
    def select(self) -> bytes:
        return b"\x1bt" + bytes([self.number])

    def encode(self, text: str) -> bytes:
        return self.printable(text).encode(self.codec)

    def printable(self, text: str) -> str:
        """``text`` as this page can print it. Stand-ins may be longer (… → ...), so wrap after this."""
        return "".join(self._char(char) for char in text)

    def _char(self, char: str) -> str:
        if char != "\n" and unicodedata.category(char) == "Cc":
            # A control character in a name or a voucher text would reach the printer as a command (GS, ESC…).
            return " " if char == "\t" else ""
        if self.can_print(char):
            return char
        if char in FALLBACKS:
            return self.printable(FALLBACKS[char])
        base = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
        if base and base != char:
            return self.printable(base)
        return ""  # no readable stand-in (emoji, CJK): leave it out rather than print garbage

    def can_print(self, char: str) -> bool:
        try:
            char.encode(self.codec)
        except UnicodeEncodeError:
            return False
        return True


def code_page(profile_name: str, page: str) -> CodePage:
    """The configured page in the printer profile's table; a clear error when either is unknown."""
    from escpos import capabilities  # ~0.2 s to load the profile table: only when a printer needs it

    try:
        profile = capabilities.get_profile(profile_name)
    except Exception:  # python-escpos raises its own NotSupported types
        raise CodePageError(f"[printer] profile {profile_name!r} is not a python-escpos profile") from None
    wanted = page.upper()
    for number, name in profile.codePages.items():
        if str(name).upper() == wanted:
            codec = wanted.lower()
            try:
                codecs.lookup(codec)
            except LookupError:
                raise CodePageError(f"[printer] codepage {page!r} has no Python codec") from None
            return CodePage(wanted, int(number), codec)
    known = ", ".join(sorted({str(n) for n in profile.codePages.values()}))
    raise CodePageError(f"[printer] codepage {page!r} is not in profile {profile_name!r} (it has: {known})")
