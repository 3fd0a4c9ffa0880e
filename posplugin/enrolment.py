"""Enrol a shopper as a member at the till: online only, and never two contacts for one shopper.

The flow follows the vendor's guidance (engage-api.md, "Enrolling a member at the till"): look the identifier up
first; a member found is identified, with their consents left as they are. Otherwise create the contact. A create
without a clear answer (a 504 — Engage gives up after ~5 s and rolls back —, a reset, a timeout, a page that is
not the vendor's) may or may not have been saved, so it is never repeated blindly: the identifier is looked up at
once, and again once the vendor's settle time since sending has passed; only a lookup that still finds nothing
allows the one retry. A contact found after our own unanswered create is ours: it is reported as created.

Double submission: one opId is one enrolment (a repeat answers the first result; a different request under it is
409 ``op_id_conflict``); one identifier is enrolled by one attempt at a time (an in-process lock per identifier),
and the same request again within ``MEMORY_SECONDS`` answers the same result. All of this lives in memory, keyed by
salted digests: nothing the shopper typed is written to disk (the member view is cached like any member's).

The cashier waits at most ``[enrolment] deadline_seconds``. Past it the answer is 503 ``enrolment_unconfirmed``
while the attempt finishes in the background (never cancelled: a cancelled create is a lost answer), and a repeat
joins it. Enrolment is not queued offline: consent has to reach the loyalty system when it is given.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .enrolment_rules import EnrolmentRequest, EnrolmentSettings, check_request
from .errors import AgentError
from .loyalty.enrolment import (
    IDENTIFIER_KINDS,
    Enrolled,
    EnrolmentPort,
    Identifier,
    IdentifierAmbiguous,
    IdentifierRefused,
    IdentifierTaken,
    NewMember,
)
from .loyalty.errors import (
    TRANSPORT_FAILURES,
    LoyaltyBadAnswer,
    LoyaltyCongested,
    LoyaltyError,
    LoyaltyNoAnswer,
    LoyaltyServerError,
)
from .loyalty.status import LoyaltyStatus
from .texts import enrolment_problem, message
from .timestamps import iso

log = logging.getLogger(__name__)
Result = Literal["created", "existing"]
MEMORY_SECONDS = 600.0  # an opId, or the same request again, answers the first result for this long
MAX_REMEMBERED = 256
CREATES_PER_ENROLMENT = 2  # the first create and, only when a lookup proves it was not saved, one retry
MAYBE_SAVED = (LoyaltyNoAnswer, LoyaltyServerError, LoyaltyBadAnswer)


class MemberViews(Protocol):
    async def member(self, contact_id: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class Outcome:
    contact_id: str
    result: Result
    creates: int  # create requests sent
    enrolled: Enrolled | None = None  # what the create answered, when it did


@dataclass
class _History:
    """One identifier's recent enrolments at this till."""

    at: float
    digest: str = ""
    outcome: Outcome | None = None
    unanswered: str | None = None  # digest of a request whose create may have been saved unseen


@dataclass
class _Run:
    digest: str
    task: asyncio.Task[Outcome]
    at: float


@dataclass
class KeyedLocks:
    """An asyncio lock per key, dropped when nobody holds or waits for it."""

    _locks: dict[str, tuple[asyncio.Lock, int]] = field(default_factory=dict)

    @asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

    def __len__(self) -> int:
        return len(self._locks)


class EnrolmentService:
    def __init__(
        self,
        port: EnrolmentPort,
        views: MemberViews,
        status: LoyaltyStatus,
        settings: Callable[[], EnrolmentSettings],
        language: str,
        refusal: Callable[[LoyaltyError], AgentError],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        settle_seconds: float | None = None,
    ) -> None:
        self._port = port
        self._views = views
        self._status = status
        self._settings = settings
        self._language = language
        self._refusal = refusal
        self._clock = clock
        self._monotonic = monotonic
        self._sleep = sleep
        self._settle = settle_seconds  # None: the port's own (a test seam, with a simulator's short limit)
        self._salt = secrets.token_bytes(16)  # digests of personal data that mean nothing outside this process
        self._runs: dict[str, _Run] = {}
        self._history: dict[str, _History] = {}
        self._locks = KeyedLocks()
        self._tasks: set[asyncio.Task[Outcome]] = set()

    # ---- what the panel asks -------------------------------------------------------------------------

    @staticmethod
    def unavailable_form() -> dict[str, Any]:
        """The form of a loyalty backend that cannot enrol at the till: nothing to ask."""
        return {"enabled": False, "identifiers": list(IDENTIFIER_KINDS), "questions": []}

    def form(self) -> dict[str, Any]:
        settings = self._settings()
        return {
            "enabled": settings.available,
            "identifiers": list(IDENTIFIER_KINDS),
            "questions": [
                {"id": q.id, "text": q.texts.get(self._language) or q.texts["en"], "requires": q.requires or None}
                for q in settings.questions
            ],
        }

    async def enrol(self, request: EnrolmentRequest, op_id: str | None = None) -> dict[str, Any]:
        settings = self._settings()
        if not settings.available:
            raise self._error(409, "enrolment_disabled")
        member = check_request(request, settings.questions, self._language)
        digest = self._digest(member)
        self._forget_old()
        run = self._runs.get(op_id) if op_id else None
        if run is not None and run.digest != digest:
            raise self._error(409, "op_id_conflict")
        if run is not None and run.task.done() and (run.task.cancelled() or run.task.exception() is not None):
            run = None  # a failed enrolment is tried afresh (it starts with a lookup, so that is safe)
        kind = member.identifier.kind
        if run is None:
            if self._status.is_offline:
                log.info("enrol by %s: enrolment_offline", kind)
                raise self._error(503, "enrolment_offline")
            run = _Run(
                digest, self._spawn(self._enrol_once(member, digest, settings.store_external_id)), self._monotonic()
            )
            if op_id:
                self._runs[op_id] = run
        deadline = self._monotonic() + settings.deadline
        try:
            outcome = await asyncio.wait_for(asyncio.shield(run.task), settings.deadline)
        except TimeoutError:
            log.info("enrol by %s: not confirmed within %g s; still trying in the background", kind, settings.deadline)
            raise self._error(503, "enrolment_unconfirmed") from None
        except AgentError as exc:
            log.info("enrol by %s: %s", kind, exc.code)
            raise
        log.info("enrol by %s: member %s %s (%d create(s))", kind, outcome.contact_id, outcome.result, outcome.creates)
        return await self._answer(outcome, member, deadline)

    async def aclose(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # ---- one enrolment ---------------------------------------------------------------------------------

    async def _enrol_once(self, member: NewMember, digest: str, store: str) -> Outcome:
        key = self._key(member.identifier)
        async with self._locks.hold(key):
            history = self._history.get(key)
            if history is not None and history.outcome is not None and history.digest == digest:
                return history.outcome  # the same request again (a double tap without an opId)
            if history is None:
                history = self._history[key] = _History(self._monotonic())
            outcome = await self._attempt(member, digest, history, store)
            history.at, history.digest, history.outcome, history.unanswered = self._monotonic(), digest, outcome, None
            return outcome

    async def _attempt(self, member: NewMember, digest: str, history: _History, store: str) -> Outcome:
        identifier = member.identifier
        found = await self._find(identifier, reconciling=history.unanswered is not None)
        if found is not None:
            return Outcome(found, "created" if history.unanswered == digest else "existing", 0)
        for creates in range(1, CREATES_PER_ENROLMENT + 1):
            sent_at = self._monotonic()
            try:
                enrolled = await self._port.create(member, store)
            except IdentifierTaken:  # another till enrolled the identifier between our lookup and our create
                self._status.record_success()
                found = await self._find(identifier, reconciling=True)
                if found is None:
                    raise self._error(503, "enrolment_unconfirmed") from None
                return Outcome(found, "created" if history.unanswered == digest else "existing", creates)
            except IdentifierRefused as exc:
                self._status.record_success()
                raise self._refused(exc) from None
            except MAYBE_SAVED as exc:
                self._status.record_failure(exc)
                history.unanswered = digest
                found = await self._settled_lookup(identifier, sent_at)
                if found is not None:
                    return Outcome(found, "created", creates)
                continue  # the vendor rolled it back: the one retry
            except LoyaltyError as exc:
                raise self._not_sent(exc, history) from None
            self._status.record_success()
            return Outcome(enrolled.contact_id, "created", creates, enrolled)
        raise self._error(503, "enrolment_unconfirmed")

    async def _settled_lookup(self, identifier: Identifier, sent_at: float) -> str | None:
        """After a create without an answer: look up at once (a lost answer to a saved create is found here),
        then once the vendor has certainly finished with it (saved or rolled back)."""
        found = await self._find(identifier, reconciling=True)
        if found is not None:
            return found
        settle = self._settle if self._settle is not None else self._port.settle_seconds
        wait = sent_at + settle - self._monotonic()
        if wait > 0:
            await self._sleep(wait)
            found = await self._find(identifier, reconciling=True)
        return found

    async def _find(self, identifier: Identifier, *, reconciling: bool) -> str | None:
        try:
            found = await self._port.find(identifier)
        except IdentifierAmbiguous:
            self._status.record_success()
            raise self._error(409, "multiple_members") from None
        except IdentifierRefused as exc:
            self._status.record_success()
            raise self._refused(exc) from None
        except LoyaltyError as exc:
            if isinstance(exc, TRANSPORT_FAILURES):
                self._status.record_failure(exc)
            if isinstance(exc, (*TRANSPORT_FAILURES, LoyaltyCongested)):
                # Before any create nothing was saved; while reconciling one, nobody can tell yet.
                raise self._error(503, "enrolment_unconfirmed" if reconciling else "enrolment_offline") from None
            self._status.record_success()
            raise self._refusal(exc) from None
        self._status.record_success()
        return found

    def _not_sent(self, exc: LoyaltyError, history: _History) -> AgentError:
        """A create the vendor refused, or that never left: nothing was saved by it."""
        if isinstance(exc, TRANSPORT_FAILURES):
            self._status.record_failure(exc)
        elif not isinstance(exc, LoyaltyCongested):
            self._status.record_success()
            return self._refusal(exc)
        # Nothing sent this time; an earlier create of ours may still have been saved unseen.
        return self._error(503, "enrolment_unconfirmed" if history.unanswered else "enrolment_offline")

    # ---- the answer ------------------------------------------------------------------------------------

    async def _answer(self, outcome: Outcome, member: NewMember, deadline: float) -> dict[str, Any]:
        """The member view, so the POS can redeem and earn at once; when it cannot be fetched in time, the
        contact with placeholders and ``viewComplete: false`` (fetch ``GET /members/{id}`` for the rest)."""
        view: dict[str, Any] | None = None
        remaining = deadline - self._monotonic()
        if remaining > 0:
            try:
                view = dict(await asyncio.wait_for(self._views.member(outcome.contact_id), remaining))
            except (AgentError, LoyaltyError, TimeoutError) as exc:
                log.info("enrol: the new member's view could not be fetched (%s)", type(exc).__name__)
        complete = view is not None
        if view is None:
            view = self._placeholder_view(outcome, member)
        view["enrolment"] = {
            "result": outcome.result,
            "identifier": member.identifier.kind,
            "consentsSaved": outcome.result == "created",
            "viewComplete": complete,
        }
        return view

    def _placeholder_view(self, outcome: Outcome, member: NewMember) -> dict[str, Any]:
        enrolled = outcome.enrolled
        created = outcome.result == "created"
        return {
            "contact": {
                "id": outcome.contact_id,
                # For a member found, only the vendor may say the name: what was typed need not be theirs.
                "firstName": (enrolled.first_name if enrolled else None) or (member.first_name if created else None),
                "lastName": None,
                "memberNumber": enrolled.member_number if enrolled else None,
            },
            "points": {"balance": 0, "pending": 0, "accounts": []},
            "vouchers": [],
            "source": "live",
            "fetchedAt": iso(self._clock()),
        }

    # ---- memory ----------------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[Outcome]) -> asyncio.Task[Outcome]:
        task: asyncio.Task[Outcome] = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._finished)
        return task

    def _finished(self, task: asyncio.Task[Outcome]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None and not isinstance(task.exception(), AgentError):
            log.warning("enrolment failed unexpectedly: %s", type(task.exception()).__name__)

    def _forget_old(self) -> None:
        horizon = self._monotonic() - MEMORY_SECONDS
        for op_id, run in list(self._runs.items()):
            if run.task.done() and (run.at < horizon or len(self._runs) > MAX_REMEMBERED):
                del self._runs[op_id]
        for key, history in list(self._history.items()):
            if history.at < horizon or len(self._history) > MAX_REMEMBERED:
                del self._history[key]

    def _key(self, identifier: Identifier) -> str:
        return hashlib.sha256(self._salt + f"{identifier.kind}:{identifier.value}".encode()).hexdigest()

    def _digest(self, member: NewMember) -> str:
        answers = [(a.id, a.value) for a in member.answers]
        text = json.dumps([member.identifier.kind, member.identifier.value, member.first_name, answers])
        return hashlib.sha256(self._salt + text.encode()).hexdigest()

    def _refused(self, exc: IdentifierRefused) -> AgentError:
        return AgentError(422, f"invalid_{exc.kind}", enrolment_problem(exc.kind, self._language))

    def _error(self, status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, self._language))
