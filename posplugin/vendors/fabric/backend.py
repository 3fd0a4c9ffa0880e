"""fabric Loyalty as a loyalty backend: its client, its ports (members, earn), its executors and rewards."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from ...config import Config
from ...errors import AgentError
from ...loyalty import ports
from ...loyalty.errors import LoyaltyError, MemberNotFound
from ...loyalty.kinds import REWARD_REDEEM, REWARD_REVERSE, SALE_EARN
from ...member_cache import MemberCache
from ...outbox.store import OutboxStore
from ...outbox.worker import Executor
from ...rewards import RewardService
from ...sale_rules import SUM_RULES, RuleViolation, Sale, violations
from ...sales import SaleRequest
from ...secret_store import FABRIC_CLIENT_SECRET
from ...texts import message
from .client import FabricClient, FabricTimeouts
from .earn_rules import earn_payload
from .earn_rules import violations as earn_violations
from .executors import RewardRedeem, RewardReverse, SaleEarn
from .member_view import build_view

SECRET = FABRIC_CLIENT_SECRET
TITLE = "fabric"
FEATURES = frozenset({ports.IDENTIFY, ports.SALES, ports.REWARDS})
LOOKUP_KEY = "loyaltyNumber"
# [assumed] An app's QR code carries the member's profileId, and profileIds are UUIDs (fabric's examples are).
PROFILE_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
MAX_ID = 100


def user_agent(config: Config) -> str:
    from ... import __version__

    a = config.agent
    return f"posplugin/{__version__} (store {a.store_id or '-'}; till {a.till_id or '-'})"


def client_for(
    config: Config,
    secret: Callable[[], str | None],
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FabricClient:
    f = config.fabric
    return FabricClient(
        f.base_url,
        f.authorization_url,
        f.client_id,
        secret,
        agent=user_agent(config),
        timeouts=FabricTimeouts(f.connect_timeout, f.read_timeout, f.long_read_timeout),
        transport=transport,
    )


def build(
    config: Config,
    secret: Callable[[], str | None],
    store: OutboxStore,
    cache: MemberCache,
    transport: httpx.AsyncBaseTransport | None,
    clock: Callable[[], float],
) -> FabricBackend:
    # Token lifetimes are timed on the monotonic clock: a wall clock stepped by NTP must not age a token.
    return FabricBackend(config, client_for(config, secret, transport), secret, store)


async def probe_once(config: Config, secret: str | None) -> float:
    async with client_for(config, lambda: secret) as client:
        return await client.probe()


class FabricIds:
    """fabric's ids are its own strings; only their length and printability are checked here."""

    def member(self, value: str, language: str) -> str:
        return _checked(value, "contactId", language)

    def voucher(self, value: str, language: str) -> str:
        return _checked(value, "voucherId", language)

    def is_member_id(self, text: str) -> bool:
        return PROFILE_ID.fullmatch(text) is not None


def _checked(value: str, name: str, language: str) -> str:
    if not value or len(value) > MAX_ID or not value.isprintable() or value != value.strip():
        raise AgentError(422, "invalid_request", f"{message('invalid_request', language)} ({name})")
    return value


class FabricDirectory:
    lookup_keys = (LOOKUP_KEY,)

    def __init__(self, client: FabricClient, location: Callable[[], str]) -> None:
        self.client = client
        self.location = location

    async def find(self, value: str, key: str) -> str | None:
        member = await self.client.find_member(loyalty_number=value)
        return member.profile_id if member is not None else None

    async def view(self, member_id: str, now: float) -> dict[str, Any]:
        member = await self.client.find_member(profile_id=member_id)
        if member is None:
            raise MemberNotFound(member_id)
        return build_view(member, await self.client.balance(member.profile_id), self.location(), now)

    async def point_transactions(
        self, member_id: str, filter_: str, offset: int, count: int, account_id: str | None, language: str
    ) -> dict[str, Any]:
        # fabric's member API documents no point history for a till to read.
        raise AgentError(404, "not_supported", message("not_supported", language) + " (fabric)")


class FabricSales:
    """A sale as a fabric earn (or, for a return naming its original receipt, an earn reverse)."""

    kind = SALE_EARN
    points_note = "Points for this sale appear once fabric has processed the earn."

    def __init__(self, location: Callable[[], str], language: str, clock: Callable[[], float]) -> None:
        self.location = location
        self.language = language
        self.clock = clock

    def violations(self, sale: Sale) -> list[RuleViolation]:
        # The vendor's four rules and the payments; not the sums of line discounts and taxes (fabric's own
        # examples put the whole discount at the top).
        return violations(sale, skip=SUM_RULES)

    async def payload(
        self, request: SaleRequest, store: str, member_id: str | None, member_code: str | None
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        if not member_id and not member_code:
            raise self._invalid("fabric earns points only for a member: give contactId or memberCode")
        location = self.location()
        if not location:
            raise AgentError(409, "loyalty_not_configured", message("loyalty_not_configured", self.language))
        try:
            body = earn_payload(
                request.sale,
                profile_id=member_id or "",
                location=location,
                activity=request.created_date or datetime.fromtimestamp(self.clock(), UTC),
                original_receipt_id=request.original_receipt_id,
            )
        except ValueError as exc:
            raise self._invalid(str(exc)) from None
        broken = [v for v in earn_violations(body) if v.rule != "profile"]
        if broken:
            raise self._invalid(f"not a valid fabric earn: {broken[0].rule}")
        identity = {"earn": {k: v for k, v in body.items() if k != "profileId"}, "member": member_id or member_code}
        payload: dict[str, Any] = {"earn": body}
        if not member_id:
            del body["profileId"]
            payload["memberCode"] = member_code  # resolved to a profileId by the outbox before sending
        return identity, payload

    def _invalid(self, why: str) -> AgentError:
        return AgentError(422, "invalid_sale", f"{message('invalid_sale', self.language)} ({why})")


class _OpCodes:
    """``RewardCodes`` on the outbox store: the redemptionCode kept in the op's payload."""

    def __init__(self, store: OutboxStore) -> None:
        self.store = store

    async def save(self, op_id: str, code: str) -> None:
        await self.store.keep_in_payload(op_id, "redemptionCode", code)

    async def claimed(self, code: str, op_id: str) -> bool:
        return await self.store.held_by_another("redemptionCode", code, op_id)


class FabricBackend:
    name = "fabric"
    title = TITLE
    credential = "client secret"
    features = FEATURES

    def __init__(
        self, config: Config, client: FabricClient, secret: Callable[[], str | None], store: OutboxStore
    ) -> None:
        self.client = client
        self._config = config
        self._secret = secret
        self.store = store
        self.ids = FabricIds()
        self.directory = FabricDirectory(client, self.location)
        self.vouchers: ports.VoucherLists | None = None
        self.sales = FabricSales(self.location, config.agent.language, time.time)

    def location(self) -> str:
        return self._config.fabric.location

    @property
    def address(self) -> str:
        return self._config.fabric.base_url

    @property
    def has_credentials(self) -> bool:
        return bool(self._config.fabric.client_id and self._secret())

    @property
    def server_offset(self) -> float | None:
        return None  # fabric's answers are matched by receipt id and reward history, not by our clock

    def executors(self, context: ports.ExecutorContext) -> Mapping[str, Executor]:
        async def resolve(code: str) -> str | None:
            try:
                return await context.resolve_code(code)
            except AgentError as exc:
                if exc.status == 404:
                    return None
                raise LoyaltyError(exc.code) from None

        client, status, clock = self.client, context.status, context.clock
        return {
            SALE_EARN: SaleEarn(client, status, clock, resolve),
            REWARD_REDEEM: RewardRedeem(client, status, clock, _OpCodes(context.store)),
            REWARD_REVERSE: RewardReverse(client, status, clock),
        }

    def capabilities(self, core: ports.CoreParts) -> ports.Capabilities:
        rewards = RewardService(core.ops, self.ids, core.status, self.location, core.language)
        return ports.Capabilities(rewards=rewards)

    async def probe(self) -> float:
        return await self.client.probe()

    def set_secret(self, secret: str) -> None:
        """The client reads the secret through the agent's callable on every token request; the token got with
        the old secret is dropped, so the next call (and Test connection) proves the new one."""
        self.client.tokens.forget()

    def reconfigure(self, config: Config, secret: str | None) -> bool:
        old, self._config = self._config, config
        if secret is not None:
            self.client.tokens.forget()
        return secret is not None or old.fabric != config.fabric

    async def aclose(self) -> None:
        await self.client.aclose()
