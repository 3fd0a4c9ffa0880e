"""Enrolment with Engage (engage-api.md, "Enrolling a member at the till"): the lookup by the one identifier
(``GET contacts/id``) and the create (``POST contacts`` with ``source`` and ``storeExternalId`` in the query string),
with Engage's answers mapped onto the core's enrolment terms (``posplugin.loyalty.enrolment``).

Engage answers a create 504 after about 5 s and rolls the work back [doc], so ``SETTLE_SECONDS`` after sending,
a create has certainly either been saved or undone: from then on a lookup tells which.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from ...loyalty.enrolment import (
    Enrolled,
    Identifier,
    IdentifierAmbiguous,
    IdentifierKind,
    IdentifierRefused,
    IdentifierTaken,
    NewMember,
)
from .client import CONTACT_SOURCE, EngageClient
from .errors import EngageBadResponse, EngageHTTPError, EngageServerError
from .ids import is_guid
from .models import Contact

SETTLE_SECONDS = 6.0  # Engage's ~5 s limit on a create [doc], and a second's margin
REFUSED_IDENTIFIERS: dict[str, IdentifierKind] = {"InvalidEmailAddress": "email", "InvalidPhoneNumber": "mobilePhone"}
DUPLICATE_STATUS = 409  # how Engage refuses an identifier a contact already has (code name [assumed])


def contact_body(member: NewMember, now: datetime) -> dict[str, Any]:
    """The new contact as Engage takes it. Preferences (``acceptsEmail``, ``acceptsSms``) are a map of booleans
    [doc]; other consents are rows ``{id, value, date, source}`` (the row's fields are [assumed], from the
    consent model: Yes/No/Not set, set once)."""
    body: dict[str, Any] = {member.identifier.kind: member.identifier.value}
    if member.first_name:
        body["firstName"] = member.first_name
    preferences = {a.id: a.value for a in member.answers if a.kind == "preference"}
    if preferences:
        body["preferences"] = preferences
    consents = [
        {"id": a.id, "value": a.value, "date": now.isoformat(timespec="seconds"), "source": CONTACT_SOURCE}
        for a in member.answers
        if a.kind == "consent"
    ]
    if consents:
        body["consents"] = consents
    return body


class EngageEnrolment:
    """The ``EnrolmentPort`` for Engage."""

    def __init__(
        self, client: EngageClient, *, settle_seconds: float = SETTLE_SECONDS, clock: Callable[[], float] = time.time
    ) -> None:
        self._client = client
        self._settle = settle_seconds
        self._clock = clock

    @property
    def settle_seconds(self) -> float:
        return self._settle

    async def find(self, identifier: Identifier) -> str | None:
        try:
            return await self._client.find_contact_id(identifier.kind, identifier.value)
        except EngageServerError:
            raise
        except EngageHTTPError as exc:
            if exc.status == 404:
                return None
            if exc.status == 409:
                raise IdentifierAmbiguous("more than one contact holds the identifier") from None
            _raise_if_refused(exc)
            raise

    async def create(self, member: NewMember, store_external_id: str) -> Enrolled:
        body = contact_body(member, datetime.fromtimestamp(self._clock(), UTC))
        try:
            result = await self._client.create_contact(body, store_external_id=store_external_id)
        except EngageServerError:
            raise  # 5xx (the 504 rollback among them): unknown, the caller looks up before any retry
        except EngageHTTPError as exc:
            if exc.status == DUPLICATE_STATUS:
                raise IdentifierTaken("a contact with this identifier exists") from None
            _raise_if_refused(exc)
            raise
        return _enrolled(result.body)


def _raise_if_refused(exc: EngageHTTPError) -> None:
    kind = REFUSED_IDENTIFIERS.get(exc.code or "")
    if exc.status == 400 and kind is not None:
        raise IdentifierRefused(kind) from None


def _enrolled(body: Any) -> Enrolled:
    """The created contact from the answer: the contact object (v2 documents it), or its id as a bare string. A
    201 without either is not taken as done: the caller reconciles by lookup."""
    if isinstance(body, str) and is_guid(body):
        return Enrolled(body.lower())
    if isinstance(body, dict):
        contact = Contact.from_json(body)
        if is_guid(contact.id):
            return Enrolled(contact.id.lower(), contact.first_name or None, contact.member_number or None)
    raise EngageBadResponse("contacts: the answer names no contact")
