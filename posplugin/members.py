"""Identify members and build the member view the cashier panel and the POS show.

The view comes from the backend's member directory (``loyalty.ports.MemberDirectory``). When a card was seen
before, its member id is known locally and the card lookup runs alongside the view's fetches instead of before
them, so a returning member costs one round trip instead of two. The loyalty system slow or down: the cached
view is served with ``source: "cache"`` and its age.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, TypeVar

from .errors import AgentError
from .events import EventBus
from .loyalty.errors import (
    TRANSPORT_FAILURES,
    LoyaltyAuthError,
    LoyaltyCongested,
    LoyaltyError,
    LoyaltyHTTPError,
    LoyaltyNoAnswer,
    MemberNotFound,
    MultipleMembers,
)
from .loyalty.ports import MemberDirectory, MemberIds
from .loyalty.status import LoyaltyStatus
from .member_cache import MemberCache
from .scan_codes import InvalidCode, ScanCode, ScanRules, parse_scan
from .texts import message, scan_problem

T = TypeVar("T")

log = logging.getLogger(__name__)
# Keys the cashier may search by explicitly (typed, not scanned): personal data, so never logged or cached.
SEARCH_KEYS = ("email", "mobilePhone")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9]{6,15}$")
_PHONE_SEPARATORS = re.compile(r"[\s\-().]")


def search_value(key: str, raw: str) -> str | None:
    """A typed e-mail address or phone number as the loyalty system expects it, or None when it cannot be one."""
    value = raw.strip()
    if key == "email":
        return value.lower() if len(value) <= 254 and _EMAIL.match(value) else None
    phone = _PHONE_SEPARATORS.sub("", value)
    if phone.startswith("00"):
        phone = "+" + phone[2:]
    return phone if _PHONE.match(phone) else None


@dataclass(frozen=True)
class MemberSettings:
    scan_rules: ScanRules
    cashier_deadline: float
    language: str
    engage_deadline: float = 10.0  # seconds for a whole live lookup, however Engage dribbles its answer


class MemberService:
    def __init__(
        self,
        directory: MemberDirectory,
        ids: MemberIds,
        cache: MemberCache,
        status: LoyaltyStatus,
        events: EventBus,
        settings: MemberSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.directory = directory
        self.ids = ids
        self.cache = cache
        self.status = status
        self.events = events
        self.settings = settings
        self._clock = clock
        self._background: set[asyncio.Task[Any]] = set()

    def use_scan_rules(self, rules: ScanRules) -> None:
        """The settings page changed the scanner's prefix / suffix rules: scans from now on use them."""
        self.settings = dataclasses.replace(self.settings, scan_rules=rules)

    def _error(self, status: int, code: str) -> AgentError:
        return AgentError(status, code, message(code, self.settings.language))

    # ---- identify --------------------------------------------------------------------------------------

    def parse(self, raw: str) -> ScanCode:
        try:
            return parse_scan(raw, dataclasses.replace(self.settings.scan_rules, is_member_id=self.ids.is_member_id))
        except InvalidCode as exc:
            raise AgentError(
                422,
                "invalid_code",
                f"{message('invalid_code', self.settings.language)} "
                f"({scan_problem(exc.problem, exc.limit, self.settings.language)})",
            ) from None

    async def identify(self, raw: str) -> dict[str, Any]:
        code = self.parse(raw)
        # An audit line per scan, with only the code's last characters: enough to match a cashier's complaint.
        try:
            view = await self._identify(code)
        except AgentError as exc:
            log.info("identify %s …%s: %s", code.kind, code.value[-4:], exc.code)
            raise
        log.info("identify %s …%s: member %s (%s)", code.kind, code.value[-4:], view["contact"]["id"], view["source"])
        return view

    async def search(self, raw: str, key: str) -> dict[str, Any]:
        """Find a member by e-mail or mobile phone the cashier typed. Online only: the cache keeps no index of
        personal data. The log names the key, never the value."""
        value = search_value(key, raw) if key in SEARCH_KEYS else None
        if value is None:
            raise self._error(422, f"invalid_{key}" if key in SEARCH_KEYS else "invalid_request")
        if self.status.is_offline:
            raise self._error(503, "loyalty_offline_search")
        try:
            contact_id = await self.lookup_contact_id(value, (key,), not_found="member_not_found_search")
            view = await self._fetch_view(contact_id, code=None)
        except AgentError as exc:
            log.info("search by %s: %s", key, exc.code)
            raise
        except LoyaltyError:
            log.info("search by %s: the loyalty system is not answering", key)
            raise self._error(503, "loyalty_offline_search") from None
        log.info("search by %s: member %s", key, contact_id)
        return view

    async def _identify(self, code: ScanCode) -> dict[str, Any]:
        if code.is_contact_id:
            return await self.member(code.value)
        if self.status.is_offline:
            return await self._from_cache_or_fail(
                await self.cache.contact_for_code(code.value), LoyaltyError("offline")
            )
        # The card lookup goes on the wire first; the local lookup of a remembered contactId overlaps it.
        lookup = asyncio.create_task(self._bounded(self.lookup_contact_id(code.value)))
        try:
            known_id = await self.cache.contact_for_code(code.value)
        except BaseException:
            lookup.cancel()
            raise
        live = asyncio.create_task(self._bounded(self._identify_card(code.value, lookup, known_id)))
        return await self._answer(live, known_id)

    async def member(self, contact_id: str) -> dict[str, Any]:
        contact_id = self.ids.member(contact_id, self.settings.language)
        if self.status.is_offline:
            return await self._from_cache_or_fail(contact_id, LoyaltyError("offline"))
        live = asyncio.create_task(self._bounded(self._fetch_view(contact_id, code=None)))
        return await self._answer(live, contact_id)

    async def _bounded(self, work: Coroutine[Any, Any, T]) -> T:
        """The whole of a lookup within ``engage_deadline``: httpx's read timeout is per chunk, so an Engage (or
        a proxy) that trickles its answer would otherwise hold the cashier for minutes. Lookups are GETs,
        so abandoning one is safe."""
        try:
            return await asyncio.wait_for(work, self.settings.engage_deadline)
        except TimeoutError:
            exc = LoyaltyNoAnswer(
                f"the loyalty system did not finish answering within {self.settings.engage_deadline:g} s"
            )
            self.status.record_failure(exc)
            raise exc from None

    async def _answer(self, live: asyncio.Task[dict[str, Any]], known_id: str | None) -> dict[str, Any]:
        """Wait for the live view up to the cashier deadline; past it, a cached view answers instead and the
        live fetch carries on to refresh the cache (and the panel, through a `member` event)."""
        cached = await self.cache.get(known_id) if known_id else None
        if cached is not None:
            done, _ = await asyncio.wait({live}, timeout=self.settings.cashier_deadline)
            if not done:
                self._background.add(live)
                live.add_done_callback(self._finish_background)
                live.add_done_callback(self._announce_late)
                return self._cached_view(cached.view, cached.fetched_at, "slow")
        try:
            return await live
        except AgentError:
            raise
        except LoyaltyError as exc:
            return await self._from_cache_or_fail(known_id, exc)

    def _announce_late(self, task: asyncio.Task[dict[str, Any]]) -> None:
        if not task.cancelled() and task.exception() is None:
            self.announce(task.result())

    def _finish_background(self, task: asyncio.Task[Any]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.info("background member refresh failed: %s", type(task.exception()).__name__)

    async def _identify_card(self, code: str, lookup: asyncio.Task[str], known_id: str | None) -> dict[str, Any]:
        if known_id is None:
            return await self._fetch_view(await lookup, code=code)
        # Speculate on the remembered contactId while the lookup confirms the card still belongs to it.
        view = asyncio.create_task(self._fetch_view(known_id, code=code))
        try:
            contact_id = await lookup
        except BaseException:
            view.cancel()
            raise
        if contact_id != known_id:
            view.cancel()
            return await self._fetch_view(contact_id, code=code)
        return await view

    async def lookup_contact_id(
        self, value: str, keys: tuple[str, ...] | None = None, not_found: str = "member_not_found"
    ) -> str:
        """The member id for a scanned code, trying the given (else the vendor's) lookup keys in order."""
        for key in keys or self.directory.lookup_keys:
            try:
                contact_id = await self.directory.find(value, key)
            except MultipleMembers:
                self.status.record_success()
                raise self._error(409, "multiple_members") from None
            except LoyaltyError as exc:
                self._note(exc)
                translated = self._translate(exc)
                if isinstance(translated, AgentError):
                    raise translated from None
                raise
            self.status.record_success()
            if contact_id is not None:
                return contact_id
        raise self._error(404, not_found)

    async def _fetch_view(self, contact_id: str, code: str | None) -> dict[str, Any]:
        try:
            view = await self.directory.view(contact_id, self._clock())
        except MemberNotFound:
            self.status.record_success()
            raise self._error(404, "member_not_found") from None
        except LoyaltyError as exc:
            self._note(exc)
            raise self._translate(exc) from None
        self.status.record_success()
        # Off the answer's path: the write (an fsync) is queued on the database thread before any later read,
        # so an offline scan right after still finds it.
        self._in_background(self.cache.put(view["contact"]["id"], view, code))
        return view

    def announce(self, view: dict[str, Any]) -> None:
        """Tell open panels about a view fetched in the background (never for a view a caller asked for, or a
        panel that refetches on the event would loop)."""
        self.events.publish("member", {"contactId": view["contact"]["id"], "source": view["source"], "view": view})

    def _in_background(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._finish_background)

    def _note(self, exc: LoyaltyError) -> None:
        if isinstance(exc, LoyaltyCongested):
            return
        if isinstance(exc, TRANSPORT_FAILURES):
            self.status.record_failure(exc)
        else:
            self.status.record_success()

    def _translate(self, exc: LoyaltyError) -> LoyaltyError | AgentError:
        if isinstance(exc, LoyaltyAuthError):
            return self._error(502, "loyalty_auth")
        if isinstance(exc, (*TRANSPORT_FAILURES, LoyaltyCongested)):
            return exc  # the caller falls back to the cache
        return self._error(502, "loyalty_error")

    def refusal(self, exc: LoyaltyError) -> AgentError:
        """The public error for the loyalty system refusing a request, for a service with no cached answer to
        fall back on (enrolment): the codes stay defined here."""
        translated = self._translate(exc)
        return translated if isinstance(translated, AgentError) else self._error(502, "loyalty_error")

    async def _from_cache_or_fail(self, contact_id: str | None, exc: LoyaltyError) -> dict[str, Any]:
        cached = await self.cache.get(contact_id) if contact_id else None
        if cached is None:
            if isinstance(exc, LoyaltyCongested) and not self.status.is_offline:
                raise self._error(503, "loyalty_busy") from None
            if isinstance(exc, TRANSPORT_FAILURES) or self.status.is_offline:
                raise self._error(503, "loyalty_offline") from None
            raise self._error(502, "loyalty_error") from None
        return self._cached_view(cached.view, cached.fetched_at, "offline" if self.status.is_offline else "error")

    def _cached_view(self, view: dict[str, Any], fetched_at: float, reason: str) -> dict[str, Any]:
        result = dict(view)
        result["source"] = "cache"
        result["cacheReason"] = reason
        result["ageSeconds"] = max(0, round(self._clock() - fetched_at))
        return result

    # ---- point transactions ----------------------------------------------------------------------------

    async def point_transactions(
        self, contact_id: str, filter_: str, offset: int, count: int, account_id: str | None
    ) -> dict[str, Any]:
        contact_id = self.ids.member(contact_id, self.settings.language)
        if filter_ not in ("all", "active", "pending"):
            raise AgentError(422, "invalid_request", "filter must be all, active or pending")
        if self.status.is_offline:
            raise self._error(503, "loyalty_offline")
        try:
            page = await self.directory.point_transactions(
                contact_id, filter_, offset, count, account_id, self.settings.language
            )
        except MemberNotFound:
            raise self._error(404, "not_found") from None
        except LoyaltyError as exc:
            self._note(exc)
            if isinstance(exc, LoyaltyHTTPError) and exc.status == 404:
                raise self._error(404, "not_found") from None
            translated = self._translate(exc)
            raise (translated if isinstance(translated, AgentError) else self._error(503, "loyalty_offline")) from None
        self.status.record_success()
        return page
