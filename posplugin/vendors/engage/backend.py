"""Engage as a loyalty backend: its client, its ports, its executors and its capability services, from config."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import httpx

from ...config import Config
from ...loyalty import ports
from ...loyalty.kinds import (
    POINT_ADJUSTMENT,
    POINT_SHOP_PURCHASE,
    PROMOTION_REDEEM,
    SALE_RECEIPT,
    VOUCHER_REACTIVATE,
    VOUCHER_REDEEM,
)
from ...member_cache import MemberCache
from ...outbox.store import OutboxStore
from ...outbox.worker import Executor
from ...secret_store import ENGAGE_API_KEY
from .client import EngageClient, EngageTimeouts, user_agent
from .directory import EngageDirectory, EngageIds, EngageVouchers
from .enrolment import EngageEnrolment
from .executors.point_adjustments import PointAdjustment
from .executors.point_shop import PointShopPurchaseCall
from .executors.promotions import PromotionRedeem
from .executors.receipts import SaleReceiptDelivery
from .executors.vouchers import VoucherReactivate, VoucherRedeem
from .point_adjustments import PointAdjustmentService
from .point_shop import PointShopService
from .promotions import PromotionService, claimed_by_another_op
from .sale_receipts import EngageSales

FEATURES = frozenset(
    {
        ports.IDENTIFY,
        ports.REDEEM,
        ports.REACTIVATE,
        ports.POINT_SHOP,
        ports.SALES,
        ports.POINT_ADJUSTMENTS,
        ports.PROMOTIONS,
        ports.ENROL,
    }
)


SECRET = ENGAGE_API_KEY
TITLE = "Engage"


def build(
    config: Config,
    secret: Callable[[], str | None],
    store: OutboxStore,
    cache: MemberCache,
    transport: httpx.AsyncBaseTransport | None,
    clock: Callable[[], float],
) -> EngageBackend:
    return EngageBackend(config, client_for(config, secret(), transport, clock), store, cache)


async def probe_once(config: Config, secret: str | None) -> float:
    """One authenticated read with the short timeouts (at most 10 s), for the doctor."""
    e = config.engage
    timeouts = EngageTimeouts(e.connect_timeout, min(e.read_timeout, 10.0))
    async with EngageClient(e.base_url, secret, agent=agent_name(config), timeouts=timeouts) as client:
        return await client.probe()


def agent_name(config: Config) -> str:
    return user_agent(config.agent.store_id, config.agent.till_id, config.engage.user_agent_suffix)


def client_for(
    config: Config,
    api_key: str | None,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Callable[[], float] = time.time,
) -> EngageClient:
    e = config.engage
    return EngageClient(
        e.base_url,
        api_key,
        agent=agent_name(config),
        timeouts=EngageTimeouts(e.connect_timeout, e.read_timeout, e.long_read_timeout),
        connect_retries=e.connect_retries,
        transport=transport,
        clock=clock,
    )


class EngageBackend:
    name = "engage"
    title = TITLE
    credential = "API key"
    features = FEATURES

    def __init__(self, config: Config, client: EngageClient, store: OutboxStore, cache: MemberCache) -> None:
        self.client = client
        self.ids = EngageIds()
        self.directory = EngageDirectory(client, tuple(config.engage.lookup_keys))
        self.vouchers: ports.VoucherLists | None = EngageVouchers(client)
        self.sales = EngageSales(store, cache, config.agent.language)
        self._config = config

    @property
    def address(self) -> str:
        return self.client.base_url

    @property
    def has_credentials(self) -> bool:
        return self.client.has_api_key

    @property
    def server_offset(self) -> float | None:
        return self.client.server_offset

    def executors(self, context: ports.ExecutorContext) -> Mapping[str, Executor]:
        client, status, clock = self.client, context.status, context.clock
        return {
            VOUCHER_REDEEM: VoucherRedeem(client, status, clock, context.redeemed_by_another_op),
            VOUCHER_REACTIVATE: VoucherReactivate(client, status, clock),
            POINT_SHOP_PURCHASE: PointShopPurchaseCall(client, status, clock),
            SALE_RECEIPT: SaleReceiptDelivery(client, status, clock, context.resolve_code),
            POINT_ADJUSTMENT: PointAdjustment(client, status, clock, context.settle_seconds),
            PROMOTION_REDEEM: PromotionRedeem(client, status, clock, claimed_by_another_op(context.store)),
        }

    def capabilities(self, core: ports.CoreParts) -> ports.Capabilities:
        shop = PointShopService(
            self.client,
            core.store,
            core.worker,
            core.ops,
            core.receipts,
            core.status,
            core.language,
            core.point_shop_qr,
            core.clock,
        )
        adjustments = PointAdjustmentService(core.store, core.ops, core.language, core.clock)
        promotions = PromotionService(
            core.ops,
            core.cache,
            core.status,
            core.offline_limits,
            core.language,
            core.clock,
            self.client,
            core.receipts,
        )
        enrolment = EngageEnrolment(self.client, clock=core.clock)
        return ports.Capabilities(
            point_shop=shop, point_adjustments=adjustments, promotions=promotions, enrolment=enrolment
        )

    async def probe(self) -> float:
        return await self.client.probe()

    def set_secret(self, secret: str) -> None:
        self.client.set_api_key(secret)

    def reconfigure(self, config: Config, secret: str | None) -> bool:
        old, self._config = self._config, config
        self.directory.lookup_keys = tuple(config.engage.lookup_keys)
        moved = (old.engage.base_url, agent_name(old)) != (config.engage.base_url, agent_name(config))
        if secret is None and not moved:
            return False
        self.client.reconfigure(config.engage.base_url, agent_name(config), secret)
        return True

    async def aclose(self) -> None:
        await self.client.aclose()
