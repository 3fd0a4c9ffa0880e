"""The input rules of an enrolment (posplugin.enrolment_rules): exactly one identifier in a strict form, a name
that is a name, and an explicit true/false for every question asked — never a default."""

from __future__ import annotations

import string
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from posplugin.config import EnrolmentConfig
from posplugin.enrolment_rules import (
    EnrolmentRequest,
    EnrolmentSettings,
    check_request,
    email_address,
    first_name,
    mobile_phone,
)
from posplugin.errors import AgentError

QUESTIONS = EnrolmentSettings.from_config(EnrolmentConfig(), "s1").questions


def refused(request: EnrolmentRequest, language: str = "en") -> AgentError:
    with pytest.raises(AgentError) as info:
        check_request(request, QUESTIONS, language)
    assert info.value.status == 422
    return info.value


@given(st.from_regex(r"\+[1-9][0-9]{7,14}", fullmatch=True))
def test_every_e164_number_is_taken_as_it_is(number: str) -> None:
    assert mobile_phone(number) == number


@given(st.text(max_size=20))
def test_a_phone_number_is_e164_or_refused(text: str) -> None:
    accepted = mobile_phone(text)
    digits = text[1:]
    is_e164 = text[:1] == "+" and digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15
    assert (accepted is not None) == (is_e164 and digits[0] != "0")


@pytest.mark.parametrize(
    "text",
    ["0701234567", "+46 70 123 45 67", "+46-701234567", "+0701234567", "+4670123", "+4670123456789012", "+٤٦٧٠١٢٣٤٥٦٧"],
)
def test_phone_forms_a_person_writes_are_not_guessed(text: str) -> None:
    assert mobile_phone(text) is None


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Nora.Ny@Example.SE", "nora.ny@example.se"),
        ("  nora+till@example.co.uk ", "nora+till@example.co.uk"),
        ("o'brien@example.ie", "o'brien@example.ie"),
    ],
)
def test_e_mail_addresses_are_lower_cased_for_the_lookup(text: str, expected: str) -> None:
    assert email_address(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "nora@",
        "@example.se",
        "nora@example",
        "nora@@example.se",
        "nora@exa@mple.se",
        "no ra@example.se",
        "nora.@example.se",
        ".nora@example.se",
        "no..ra@example.se",
        "nora@-example.se",
        "nora@example.s",
        "nora@exa\nmple.se",
        "nora@exämple.se",
        "a" * 65 + "@example.se",
        "nora@" + "a" * 250 + ".se",
    ],
)
def test_what_is_not_an_e_mail_address_is_refused(text: str) -> None:
    assert email_address(text) is None


@given(st.emails())
def test_ordinary_addresses_are_accepted(address: str) -> None:
    local, _, domain = address.rpartition("@")
    if domain.rsplit(".", 1)[-1].isalpha() and len(address) <= 254 and ".." not in local:
        assert email_address(address) == address.lower()


@given(st.text(max_size=80))
def test_an_accepted_address_has_one_at_sign_and_no_space(text: str) -> None:
    accepted = email_address(text)
    if accepted is not None:
        assert accepted.count("@") == 1 and not any(ch in string.whitespace for ch in accepted)
        assert len(accepted) <= 254


@pytest.mark.parametrize("name", ["Nora", "Åsa", "Jean-Luc", "O'Brien", "Søren", "Anna Maria", "Zoë", "J.R.", "陽翔"])
def test_names_in_any_script(name: str) -> None:
    assert first_name(name) == name


@pytest.mark.parametrize("name", ["4111111111111111", "Nora1", "nora@example.se", "No\x1bra", "<b>", "x" * 51, "--"])
def test_what_is_not_a_name_is_refused(name: str) -> None:
    assert first_name(name) is None


def test_spaces_are_tidied_and_empty_is_no_name() -> None:
    assert first_name("  Anna   Maria\n") == "Anna Maria"
    assert email_address(" nora@example.se\n") == "nora@example.se"
    assert first_name("   ") is None and first_name(None) is None


def test_one_identifier_exactly() -> None:
    assert "exactly one identifier" in refused(EnrolmentRequest(consents={})).message
    both = EnrolmentRequest("nora@example.se", "+46701234567", consents={"acceptsEmail": True})
    assert "exactly one identifier" in refused(both).message


@given(st.one_of(st.none(), st.integers(), st.text(), st.floats(), st.lists(st.booleans())))
def test_only_true_or_false_is_an_answer(value: Any) -> None:
    error = refused(EnrolmentRequest("nora@example.se", consents={"acceptsEmail": value}))
    assert error.code == "invalid_request" and "consents.acceptsEmail" in error.message


def test_the_answers_are_the_shoppers_and_only_for_the_identifier() -> None:
    member = check_request(EnrolmentRequest("nora@example.se", consents={"acceptsEmail": False}), QUESTIONS, "en")
    assert [(a.id, a.kind, a.value) for a in member.answers] == [("acceptsEmail", "preference", False)]
    sms_for_email = EnrolmentRequest("nora@example.se", consents={"acceptsEmail": True, "acceptsSms": True})
    assert "not asked for an enrolment with email" in refused(sms_for_email).message
    assert "frågas inte vid registrering med email" in refused(sms_for_email, "sv").message


def test_errors_speak_the_agents_language() -> None:
    assert refused(EnrolmentRequest(mobile_phone="0701234567", consents={}), "sv").message == (
        "Ange mobilnumret med landsnummer: + och 8–15 siffror, t.ex. +46701234567."
    )
    missing = refused(EnrolmentRequest(mobile_phone="+46701234567", consents={}), "sv")
    assert "consents.acceptsSms: kundens svar (ja eller nej) saknas" in missing.message


def test_no_store_means_not_available() -> None:
    assert not EnrolmentSettings.from_config(EnrolmentConfig(), "").available
    assert EnrolmentSettings.from_config(EnrolmentConfig(store_external_id="S-9"), "").store_external_id == "S-9"
    assert not EnrolmentSettings.from_config(EnrolmentConfig(enabled=False), "s1").available
