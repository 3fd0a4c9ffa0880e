"""Turning raw scanner text into something to look up.

A scan may be a member card number, an EAN/Code128 with a store prefix or suffix, a member id in the vendor's
format (``ScanRules.is_member_id``; Engage's is a GUID), or an app QR payload (often a URL carrying the id).
Scanners add noise: CR/LF, control characters, AIM symbology identifiers (``]C1``, ``]E0``), GS1 FNC1
separators. Everything that survives normalisation must be plain printable ASCII of a bounded length;
anything else is ``invalid_code``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

AIM_PREFIX = re.compile(r"^\][A-Za-z][0-9A-Za-z]")
# Card and member numbers, plus what `[engage] lookup_keys` may add: e-mail addresses and +46… phone numbers.
CARD_RE = re.compile(r"^[0-9A-Za-z+][0-9A-Za-z\-_.@+]{2,63}$")
MAX_RAW = 4096


class InvalidCode(ValueError):
    """The scan cannot be a member code; the message is safe to show a cashier, ``problem`` names it for
    translation (texts.SCAN_PROBLEMS)."""

    def __init__(self, text: str, problem: str = "not_a_code", limit: int = 0) -> None:
        super().__init__(text)
        self.problem = problem
        self.limit = limit


@dataclass(frozen=True)
class ScanCode:
    kind: str  # "contact_id" or "card"
    value: str

    @property
    def is_contact_id(self) -> bool:
        return self.kind == "contact_id"


def no_member_ids(text: str) -> bool:
    return False


@dataclass(frozen=True)
class ScanRules:
    strip_prefix: str = ""
    strip_suffix: str = ""
    max_length: int = 256
    # The loyalty vendor's member id format (Engage: a GUID): a scan that is one, or a URL carrying one, names the
    # member directly. The core knows no format of its own.
    is_member_id: Callable[[str], bool] = field(default=no_member_ids, compare=False)


def clean(raw: str, max_length: int = 256) -> str:
    """Drop control and format characters and AIM identifiers, trim white space."""
    if len(raw) > MAX_RAW:
        raise InvalidCode("the scan is far too long to be a member code", "too_long", MAX_RAW)
    text = unicodedata.normalize("NFKC", raw)
    text = "".join(ch for ch in text if unicodedata.category(ch)[0] != "C")
    text = AIM_PREFIX.sub("", text.strip()).strip()
    if not text:
        raise InvalidCode("the scan was empty", "empty")
    if len(text) > max_length:
        raise InvalidCode(f"the scan is longer than {max_length} characters", "too_long", max_length)
    return text


def parse_scan(raw: str, rules: ScanRules | None = None) -> ScanCode:
    rules = rules or ScanRules()
    text = clean(raw, rules.max_length)
    member_id = _member_id_in(text, rules.is_member_id)
    if member_id is not None:
        return ScanCode("contact_id", member_id)
    if rules.strip_prefix and text.startswith(rules.strip_prefix):
        text = text[len(rules.strip_prefix) :]
    if rules.strip_suffix and text.endswith(rules.strip_suffix):
        text = text[: -len(rules.strip_suffix)]
    if "://" in text or text.lower().startswith("www."):
        raise InvalidCode("this QR code is a web link without a member id", "web_link")
    if not text.isascii() or not CARD_RE.match(text):
        raise InvalidCode("this is not a member card or app code")
    return ScanCode("card", text)


def _member_id_in(text: str, is_member_id: Callable[[str], bool]) -> str | None:
    """A member id that *is* the code, or sits in a URL's path or query (app QR codes)."""
    if is_member_id(text):
        return text.lower()
    if "://" not in text:
        return None
    parts = urlsplit(text)
    candidates = [unquote(seg) for seg in parts.path.split("/")]
    candidates += [unquote(v) for _, v in parse_qsl(parts.query)]
    candidates.append(unquote(parts.fragment))
    for candidate in candidates:
        if is_member_id(candidate):
            return candidate.lower()
    return None
