from __future__ import annotations

import logging
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from posplugin.log_redaction import configure_logging, redact


def test_personal_data_is_masked() -> None:
    line = (
        "voucher 2511233093766 for asa.oberg@example.se +46 70 123 45 01 ssn 19810101-0101 "
        "contact 2b4fff30-49b2-5f21-90c6-f247ea8de82a"
    )
    out = redact(line)
    for secret in ("2511233093766", "asa.oberg@example.se", "70 123 45", "19810101", "49b2-5f21"):
        assert secret not in out
    assert "*********3766" in out and "a***@e***.se" in out and "2b4fff30-…" in out


def test_registered_secrets_are_removed() -> None:
    assert redact("key=abcd-SECRET-1234 ok", ["abcd-SECRET-1234"]) == "key=[secret] ok"


@given(st.from_regex(r"[0-9]{7,19}", fullmatch=True), st.text(max_size=20))
def test_long_digit_runs_never_survive(digits: str, noise: str) -> None:
    assert digits not in redact(f"{noise} {digits} {noise}")


def test_filter_applies_to_args_and_exceptions(tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    redactor = configure_logging(log_file)
    redactor.add_secret("CANARY-KEY-999")
    log = logging.getLogger("posplugin.test")
    log.info("card %s key %s", "2400000010014", "CANARY-KEY-999")
    try:
        raise ValueError("mail me at someone@example.com")
    except ValueError:
        log.exception("failed")
    logging.getLogger("httpx").info("GET /api/v3/contacts/2b4fff30-49b2-5f21-90c6-f247ea8de82a")
    for handler in logging.getLogger().handlers:
        handler.flush()
    text = log_file.read_text()
    assert "2400000010014" not in text and "CANARY-KEY-999" not in text and "someone@example.com" not in text
    assert "*********0014" in text and "ValueError" in text
    assert "contacts/2b4fff30" not in text  # httpx INFO lines are silenced
    logging.getLogger().handlers.clear()


def test_a_newline_in_a_logged_value_cannot_forge_a_line(tmp_path: Path) -> None:
    log_file = tmp_path / "agent.log"
    configure_logging(log_file)
    log = logging.getLogger("posplugin.test")
    forged = "Unauthorized\nERROR posplugin.agent: the API key was replaced\x1b[2J"
    log.warning("Engage answered %s", forged)
    try:
        raise ValueError("boom\r\nINFO posplugin: forged")
    except ValueError:
        log.exception("call failed")
    for handler in logging.getLogger().handlers:
        handler.flush()
    lines = log_file.read_text(encoding="utf-8").splitlines()
    logging.getLogger().handlers.clear()
    assert not any(line.startswith(("ERROR posplugin.agent", "INFO posplugin")) for line in lines)
    assert any("Unauthorized\\n" in line and "\\x1b[2J" in line for line in lines)
    assert any("boom\\r" in line for line in lines)


@given(st.text(max_size=60))
def test_no_logged_message_has_a_control_character(text: str) -> None:
    from posplugin.log_redaction import RedactingFilter

    record = logging.LogRecord("x", logging.INFO, __file__, 1, "got %s", (text,), None)
    RedactingFilter().filter(record)
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F or ch in "\u2028\u2029" for ch in record.getMessage())
