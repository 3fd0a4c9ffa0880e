"""What an enrolment request must hold, checked strictly before anything reaches the loyalty system.

Exactly one identifier (an e-mail address, or a mobile phone in E.164: ``+`` and 8–15 digits, no spaces), an
optional first name, and the shopper's explicit yes or no (JSON ``true``/``false``) to every question the store
asks for that identifier. A question left out is refused, never taken as "no": consent must be given, not assumed.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .config import ConsentConfig, EnrolmentConfig
from .errors import AgentError
from .loyalty.enrolment import ConsentAnswer, Identifier, IdentifierKind, NewMember
from .texts import enrolment_problem, message

E164 = re.compile(r"^\+[1-9][0-9]{7,14}$")
_LOCAL = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = re.compile(rf"^(?=[^@]{{1,64}}@){_LOCAL}@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,63}}$")
FIRST_NAME_MAX = 50
NAME_PUNCTUATION = frozenset(" -'’.")


@dataclass(frozen=True)
class ConsentQuestion:
    id: str
    kind: str
    requires: str
    texts: Mapping[str, str]

    def asked_for(self, kind: IdentifierKind) -> bool:
        return self.requires in ("", kind)


@dataclass(frozen=True)
class EnrolmentSettings:
    enabled: bool
    store_external_id: str
    deadline: float
    questions: tuple[ConsentQuestion, ...]

    @classmethod
    def from_config(cls, enrolment: EnrolmentConfig, store_id: str) -> EnrolmentSettings:
        return cls(
            enrolment.enabled,
            enrolment.store_external_id or store_id,
            enrolment.deadline_seconds,
            tuple(_question(c) for c in enrolment.consents),
        )

    @property
    def available(self) -> bool:
        return self.enabled and bool(self.store_external_id)


def _question(consent: ConsentConfig) -> ConsentQuestion:
    return ConsentQuestion(consent.id, consent.kind, consent.requires, {"sv": consent.sv, "en": consent.en})


@dataclass(frozen=True)
class EnrolmentRequest:
    """The request as the POS sent it, before any check (``consents``: question id → the shopper's answer)."""

    email: str | None = None
    mobile_phone: str | None = None
    first_name: str | None = None
    consents: Mapping[str, object] | None = None


def email_address(raw: str) -> str | None:
    """The address lower-cased (as lookups compare it), or None when it is not one."""
    value = raw.strip()
    if len(value) > 254 or not EMAIL.match(value):
        return None
    return value.lower()


def mobile_phone(raw: str) -> str | None:
    """E.164 exactly as Engage takes it: no spaces, no national form (the country is not guessed)."""
    return raw if E164.match(raw) else None


def first_name(raw: str | None) -> str | None:
    """Trimmed; empty is no name. Letters (any script) with spaces, hyphens, apostrophes and dots — no digits,
    so a card number typed into the wrong field is refused rather than sent to the loyalty system."""
    if raw is None:
        return None
    value = unicodedata.normalize("NFC", " ".join(raw.split()))
    if not value:
        return None
    ok = len(value) <= FIRST_NAME_MAX and any(ch.isalpha() for ch in value)
    ok = ok and all(ch.isalpha() or unicodedata.category(ch).startswith("M") or ch in NAME_PUNCTUATION for ch in value)
    return value if ok else None


def check_request(request: EnrolmentRequest, questions: Sequence[ConsentQuestion], language: str) -> NewMember:
    """The request as a ``NewMember``, or the first problem as a 422 that names the field."""
    identifier = _identifier(request, language)
    name = first_name(request.first_name)
    if request.first_name is not None and name is None and request.first_name.strip():
        raise _invalid("invalid_request", "first_name", language)
    return NewMember(identifier, name, _answers(request.consents or {}, questions, identifier.kind, language))


def _identifier(request: EnrolmentRequest, language: str) -> Identifier:
    given = [(k, v) for k, v in (("email", request.email), ("mobilePhone", request.mobile_phone)) if v is not None]
    if len(given) != 1:
        raise _invalid("invalid_request", "identifier_count", language)
    kind, raw = given[0]
    if kind == "email":
        value = email_address(raw)
        if value is None:
            raise AgentError(422, "invalid_email", enrolment_problem("email", language))
        return Identifier("email", value)
    phone = mobile_phone(raw)
    if phone is None:
        raise AgentError(422, "invalid_mobilePhone", enrolment_problem("mobilePhone", language))
    return Identifier("mobilePhone", phone)


def _answers(
    given: Mapping[str, object], questions: Sequence[ConsentQuestion], kind: IdentifierKind, language: str
) -> tuple[ConsentAnswer, ...]:
    by_id = {q.id: q for q in questions}
    for key in given:
        question = by_id.get(key)
        if question is None:
            raise _invalid("invalid_request", "consent_unknown", language, id=key)
        if not question.asked_for(kind):
            raise _invalid("invalid_request", "consent_not_asked", language, id=key, kind=kind)
    answers = []
    for question in questions:
        if not question.asked_for(kind):
            continue
        value = given.get(question.id)
        if not isinstance(value, bool):  # missing, null, "yes", 1: none of them is the shopper's explicit answer
            raise _invalid("invalid_request", "consent_missing", language, id=question.id)
        answers.append(ConsentAnswer(question.id, "consent" if question.kind == "consent" else "preference", value))
    return tuple(answers)


def _invalid(code: str, problem: str, language: str, **values: str) -> AgentError:
    return AgentError(422, code, f"{message(code, language)} ({enrolment_problem(problem, language, **values)})")
