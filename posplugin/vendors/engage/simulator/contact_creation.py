"""``POST /api/v3/contacts`` as the simulated Engage does it (engage-api.md, "Enrolling a member at the till").

Strict where the vendor is: ``source`` and ``storeExternalId`` count only in the query string (v3 ignores them as
headers, so a client that sends headers gets the refusal here), a new contact needs an e-mail address or an E.164
mobile phone, and an identifier that a contact already has is refused. The check runs before any work, so an
invalid request is refused at once even when the ``rollback_timeout`` fault is set; the insert runs under the
state's lock, so two creates racing for one identifier make one contact.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .state import EMAIL, Contact, SimError, SimState

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
PREFERENCES = ("acceptsEmail", "acceptsSms", "acceptsPostal")
ATTRIBUTES = frozenset(
    {"firstName", "lastName", "email", "mobilePhone", "countryCode", "preferences", "consents", "contactType"}
)
# The status and code Engage refuses a duplicate identifier with: the code name is [assumed] (the v3 docs found
# name no code; v2 documents answering the existing contact instead: SimSettings.duplicate_contacts).
DUPLICATE_STATUS, DUPLICATE_CODE = 409, "ContactAlreadyExists"
FIRST_MEMBER_NUMBER = 2_000_001


@dataclass(frozen=True)
class NewContact:
    source: str
    store_external_id: str
    first_name: str
    last_name: str
    email: str
    mobile_phone: str
    preferences: dict[str, bool] = field(default_factory=dict)
    consents: list[dict[str, Any]] = field(default_factory=list)


def check_new_contact(state: SimState, params: Mapping[str, str], body: Any) -> NewContact:
    """What Engage refuses before it starts the work (400s)."""
    source = params.get("source", "")
    if not source:
        raise SimError(400, "InvalidSource", "source is required in the query string")
    if source not in state.contact_sources:
        raise SimError(400, "InvalidSource", f"unknown source {source!r}")
    store = params.get("storeExternalId", "")
    if not store.strip():
        raise SimError(400, "InvalidStoreExternalId", "storeExternalId is required in the query string")
    if state.stores and store not in state.stores:
        raise SimError(400, "InvalidStoreExternalId", f"no store {store!r}")
    if not isinstance(body, dict):
        raise SimError(400, "InvalidContact", "expected a JSON object")
    unknown = set(body) - ATTRIBUTES
    if unknown:
        raise SimError(400, "InvalidContact", f"unknown attribute(s) {', '.join(sorted(unknown))}")
    texts = {name: body.get(name, "") for name in ("firstName", "lastName", "email", "mobilePhone")}
    if not all(isinstance(value, str) for value in texts.values()):
        raise SimError(400, "InvalidContact", "names, email and mobilePhone are strings")
    if body.get("contactType", "Member") not in ("Member", "Contact"):
        raise SimError(400, "InvalidContactType")
    email, phone = texts["email"], texts["mobilePhone"]
    if not email and not phone:
        raise SimError(400, "InvalidContact", "a new contact needs email or mobilePhone")
    if email and not EMAIL.match(email):
        raise SimError(400, "InvalidEmailAddress")
    if phone and not E164.match(phone):
        raise SimError(400, "InvalidPhoneNumber", "mobilePhone must be E.164 without spaces")
    return NewContact(
        source,
        store,
        texts["firstName"],
        texts["lastName"],
        email,
        phone,
        _preferences(body.get("preferences")),
        _consents(body.get("consents")),
    )


def create_contact(state: SimState, new: NewContact) -> tuple[int, dict[str, Any]]:
    """Commit the new contact (with its point account), or refuse the duplicate."""
    with state.lock:
        existing = _holder_of(state, new)
        if existing is not None:
            if state.settings.duplicate_contacts == "first_match":
                return 200, state.contact(existing.id)
            raise SimError(DUPLICATE_STATUS, DUPLICATE_CODE, "a contact with this identifier exists")
        numbers = [int(c.member_number) for c in state.contacts.values() if c.member_number.isdigit()]
        contact = Contact(
            str(uuid.uuid4()),
            new.first_name,
            new.last_name,
            str(max([FIRST_MEMBER_NUMBER - 1, *numbers]) + 1),
            new.email,
            new.mobile_phone,
            source=new.source,
            store_external_id=new.store_external_id,
            preferences=new.preferences,
            consents=new.consents,
        )
        state.add_contact(contact)
        state.created_contacts.append(contact.id)
        return 201, state.contact(contact.id)


def contacts_with(state: SimState, email: str = "", mobile_phone: str = "") -> list[Contact]:
    """Every contact holding the identifier (tests assert there is exactly one)."""
    with state.lock:
        return [
            c
            for c in state.contacts.values()
            if (email and c.email.lower() == email.lower()) or (mobile_phone and c.mobile_phone == mobile_phone)
        ]


def _holder_of(state: SimState, new: NewContact) -> Contact | None:
    found = contacts_with(state, new.email, new.mobile_phone)
    return found[0] if found else None


def _preferences(value: Any) -> dict[str, bool]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(k in PREFERENCES and isinstance(v, bool) for k, v in value.items()):
        raise SimError(400, "InvalidPreferences", f"preferences are true/false for {', '.join(PREFERENCES)}")
    return dict(value)


def _consents(value: Any) -> list[dict[str, Any]]:
    """Consent rows ``{id, value, date?, source?, comment?}`` (the row's shape is [assumed])."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise SimError(400, "InvalidConsents", "consents is an array")
    rows = []
    for row in value:
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) or not isinstance(row.get("value"), bool):
            raise SimError(400, "InvalidConsents", "each consent needs an id and a true/false value")
        rows.append(dict(row))
    return rows
