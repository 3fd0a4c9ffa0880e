"""One redaction filter for every log line the agent writes.

Secrets (API key, token, PIN) registered at run time are removed outright. Personal data is masked by shape:
e-mail addresses, long digit runs (phone numbers, personal identity numbers, card and voucher numbers) and
GUIDs (contactIds); and by name: the value of a personal field (firstName, email, mobilePhone, …) written as a
key and its value. httpx's INFO request lines are silenced at the source because their URLs carry contactIds.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
import sys
from collections.abc import Iterable
from pathlib import Path

from .private_files import PrivateRotatingFileHandler

EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-])[A-Za-z0-9.-]*\.([A-Za-z]{2,})")
GUID = re.compile(r"\b([0-9a-fA-F]{8})-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b")
# Digit runs of 7+ (optionally with spaces/dashes, a leading +): phones, SSNs, card and voucher numbers.
DIGITS = re.compile(r"\+?\d(?:[ -]?\d){6,}")
QUIET_LOGGERS = ("httpx", "httpcore", "uvicorn.access", "hpack")
# A personal field named in a line — a dict's or a dataclass's repr, JSON, a query string — loses its value
# whatever it looks like: a first name has no shape to mask by. Only a quoted key before ``:`` or any key before
# ``=`` counts, so prose such as "search by email: member …" stays readable.
_PERSONAL_KEYS = r"(?:first_?name|last_?name|e_?mail|mobile_?phone|phone|social_?security_?number|ssn|name)"
_VALUE = r"(?:\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'|[^\s,;&}\])]+)"
PERSONAL_FIELD = re.compile(
    rf"((?:\"{_PERSONAL_KEYS}\"|'{_PERSONAL_KEYS}')\s*:\s*|\b{_PERSONAL_KEYS}\s*=\s*){_VALUE}", re.IGNORECASE
)


def mask_digits(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return "*" * (len(digits) - 4) + digits[-4:]


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
CONTROL_BUT_NEWLINE = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def escape_controls(text: str, pattern: re.Pattern[str] = CONTROL) -> str:
    """Control characters as visible escapes: a newline in an Engage error message (or a scanned code) must
    not start a forged log line, and an escape sequence must not repaint a terminal."""
    named = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

    def visible(match: re.Match[str]) -> str:
        ch = match.group(0)
        return named.get(ch) or (f"\\u{ord(ch):04x}" if ord(ch) > 0xFF else f"\\x{ord(ch):02x}")

    return pattern.sub(visible, text)


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, "[secret]")
    text = PERSONAL_FIELD.sub(r"\1[personal]", text)
    text = EMAIL.sub(r"\1***@\2***.\3", text)
    text = GUID.sub(r"\1-…", text)
    return DIGITS.sub(mask_digits, text)


class RedactingFilter(logging.Filter):
    """Rewrites each record's message (and exception text) in place before any handler formats it."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add_secret(self, value: str | None) -> None:
        if value:
            self._secrets.add(value)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            text = record.getMessage()
        except (TypeError, ValueError):
            text = str(record.msg)
        record.msg = escape_controls(redact(text, self._secrets))
        record.args = None
        if record.exc_info:
            formatted = logging.Formatter().formatException(record.exc_info)
            # A traceback is several lines by nature: they stay lines, but indented under the record, so a
            # newline inside an exception's message cannot start a line that looks like a record of its own.
            lines = escape_controls(redact(formatted, self._secrets), CONTROL_BUT_NEWLINE).split("\n")
            record.exc_text = "\n".join(lines[:1] + ["  " + line for line in lines[1:]])
            record.exc_info = None
        return True


def configure_logging(log_file: Path | None, level: int = logging.INFO) -> RedactingFilter:
    """Root logging to stderr (journald on a service) and, when given, a rotating file. Returns the filter so
    secrets can be registered as they become known."""
    redactor = RedactingFilter()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        handlers.append(PrivateRotatingFileHandler(log_file, maxBytes=5_000_000, backupCount=5, encoding="utf-8"))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    for handler in handlers:
        handler.setFormatter(fmt)
        handler.addFilter(redactor)
        root.addHandler(handler)
    root.setLevel(level)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return redactor
