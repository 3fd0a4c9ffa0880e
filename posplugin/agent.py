"""The composition root: builds the agent's services from config and secrets, starts and stops them.

Nothing here runs at import; ``Agent`` is created by the CLI (or a test) and owned by the web app's lifespan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import secrets as token_source
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from drivers.printer import open_printer

from . import __version__
from .config import Config
from .config_file import write_config
from .database import Database
from .enrolment import EnrolmentService
from .enrolment_rules import EnrolmentSettings
from .errors import AgentError
from .events import EventBus
from .health_levels import LEVELS, assess
from .log_redaction import RedactingFilter
from .loyalty.kinds import (
    POINT_ADJUSTMENT,
    POINT_SHOP_PURCHASE,
    SALE_RECEIPT,
    VOUCHER_REACTIVATE,
    VOUCHER_REDEEM,
    op_view,
)
from .loyalty.status import LoyaltyStatus
from .manager_pin import ManagerPin, PinGuard
from .member_cache import MemberCache
from .members import MemberService, MemberSettings
from .ops import OpService
from .outbox.model import CONFIRMED, Op
from .outbox.steady_clock import SteadyClock
from .outbox.store import Backoff, OutboxStore
from .outbox.worker import OutboxWorker, till_rate
from .paths import AgentPaths
from .point_adjustments import PointAdjustmentService
from .point_shop import PointShopService
from .receipts.service import ReceiptService
from .redemptions import OfflineLimits, RedemptionService
from .sales import SalesService
from .scan_codes import ScanRules
from .secret_store import API_TOKEN, ENGAGE_API_KEY, IMPORT_FOLDER, SecretStore, import_pending
from .vendors.engage import EngageClient, EngageTimeouts, user_agent
from .vendors.engage.enrolment import SETTLE_SECONDS, EngageEnrolment
from .vendors.engage.executors.point_adjustments import PointAdjustment
from .vendors.engage.executors.point_shop import PointShopPurchaseCall
from .vendors.engage.executors.receipts import SaleReceiptDelivery
from .vendors.engage.executors.vouchers import VoucherReactivate, VoucherRedeem

log = logging.getLogger(__name__)
MEMBER_REFRESH_INTERVAL = 3.0  # seconds


@dataclass
class AgentOptions:
    """Seams for tests and the demo; production uses the defaults."""

    engage_transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], float] = time.time
    # Schedules and pacing (outbox backoff, rate limiter, "too old"); a separate seam so tests can step the wall
    # clock and see that nothing waits or parks because of it.
    monotonic: Callable[[], float] = time.monotonic
    # Seconds after sending a new contact by which Engage has saved it or rolled it back (~5 s, and a margin).
    enrolment_settle_seconds: float = SETTLE_SECONDS


class Agent:
    def __init__(
        self,
        config: Config,
        paths: AgentPaths,
        secret_store: SecretStore,
        redactor: RedactingFilter | None = None,
        options: AgentOptions | None = None,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        # Where the settings page saves; None (defaults, no file) saves into the data folder's config.toml.
        self.config_path = config_path
        self.paths = paths
        self.secrets = secret_store
        self.redactor = redactor or RedactingFilter()
        self.options = options or AgentOptions()
        self.started_at = self.options.clock()
        self.events = EventBus()
        self.status = LoyaltyStatus(
            config.engage.breaker_failures, on_change=self._engage_changed, clock=self.options.clock
        )
        for name in import_pending(secret_store, paths.data_dir / IMPORT_FOLDER):
            log.info("imported the %s left by the installer", name)
        self.token = self._ensure_token()
        api_key = secret_store.get(ENGAGE_API_KEY)
        self.api_key = api_key  # the key in use (the settings page may replace it while running)
        self.redactor.add_secret(api_key)
        self.redactor.add_secret(self.token)
        self.client = EngageClient(
            config.engage.base_url,
            api_key,
            agent=user_agent(config.agent.store_id, config.agent.till_id, config.engage.user_agent_suffix),
            timeouts=EngageTimeouts(
                config.engage.connect_timeout, config.engage.read_timeout, config.engage.long_read_timeout
            ),
            connect_retries=config.engage.connect_retries,
            transport=self.options.engage_transport,
            clock=self.options.clock,
        )
        self.db = Database(paths.database)
        self.cache = MemberCache(
            self.db, config.offline.member_cache_size, config.offline.member_cache_hours * 3600, self.options.clock
        )
        self.members = MemberService(
            self.client,
            self.cache,
            self.status,
            self.events,
            MemberSettings(
                lookup_keys=tuple(config.engage.lookup_keys),
                scan_rules=ScanRules(
                    config.scanner.strip_prefix, config.scanner.strip_suffix, config.scanner.max_length
                ),
                cashier_deadline=config.engage.cashier_deadline,
                language=config.agent.language,
                # The short read timeout, for the whole lookup rather than for each chunk of it.
                engage_deadline=max(config.engage.read_timeout, config.engage.cashier_deadline),
            ),
            clock=self.options.clock,
        )
        clock = self.options.clock

        def enrolment_settings() -> EnrolmentSettings:  # read at each call: the settings page may change the store
            return EnrolmentSettings.from_config(self.config.enrolment, self.config.agent.store_id)

        self.enrolment = EnrolmentService(
            EngageEnrolment(
                self.client,
                lambda: enrolment_settings().store_external_id,
                settle_seconds=self.options.enrolment_settle_seconds,
                clock=clock,
            ),
            self.members,
            self.status,
            enrolment_settings,
            config.agent.language,
            self.members.refusal,
            clock=clock,
        )
        offline = config.offline
        self.outbox = OutboxStore(
            self.db,
            offline.max_attempts,
            offline.park_after_hours * 3600,
            Backoff(offline.retry_min_seconds, offline.retry_max_seconds),
            SteadyClock(clock, self.options.monotonic),
        )
        self.worker = OutboxWorker(
            self.outbox,
            {
                VOUCHER_REDEEM: VoucherRedeem(self.client, self.status, clock, self._redeemed_by_another_op),
                VOUCHER_REACTIVATE: VoucherReactivate(self.client, self.status, clock),
                POINT_SHOP_PURCHASE: PointShopPurchaseCall(self.client, self.status, clock),
                SALE_RECEIPT: SaleReceiptDelivery(self.client, self.status, clock, self.members.lookup_contact_id),
                POINT_ADJUSTMENT: PointAdjustment(self.client, self.status, clock, offline.point_settle_seconds),
            },
            self.status,
            self.events,
            clock,
            concurrency=offline.worker_concurrency,
            rate=till_rate(offline.max_requests_per_second, offline.tills_sharing_key),
            server_offset=lambda: self.client.server_offset,
            on_final=self._op_final,
            describe=lambda op: op_view(op, config.agent.language),
            monotonic=self.options.monotonic,
        )
        self.outbox.on_change = self._queue_changed
        self.ops = OpService(
            self.outbox, self.worker, config.agent.language, clock, lambda: self.config.offline.cashier_wait
        )
        self.redemptions = RedemptionService(
            self.ops,
            self.cache,
            self.status,
            lambda: OfflineLimits.from_config(self.config.offline),
            config.agent.language,
            clock,
            self.client,
        )
        self.receipts = ReceiptService(
            config,
            open_printer(config.printer, paths.data_dir / "printer.bin"),
            self.members,
            self.cache,
            self.client,
            clock,
            outbox=self.outbox,
        )
        self.point_shop = PointShopService(
            self.client,
            self.outbox,
            self.worker,
            self.ops,
            self.receipts,
            self.status,
            config.agent.language,
            config.receipt.point_shop_qr,
            clock,
        )
        self.sales = SalesService(
            self.outbox,
            self.worker,
            self.members,
            self.events,
            store_id=lambda: self.config.agent.store_id,
            language=config.agent.language,
            clock=clock,
        )
        self.point_adjustments = PointAdjustmentService(self.outbox, self.ops, config.agent.language, clock)
        self.pin = ManagerPin(secret_store, PinGuard(self.db, clock), config.agent.language)
        self.features = {"identify", "redeem", "reactivate", "print", "point_shop", "sales", "point_adjustments"}
        if config.enrolment.enabled:
            self.features.add("enrol")
        self._tasks: list[asyncio.Task[Any]] = []
        self._scanner: Any = None
        self._refreshed: dict[str, float] = {}
        self.last_scan: dict[str, Any] | None = None

    def _ensure_token(self) -> str:
        token = self.secrets.get(API_TOKEN)
        if not token:
            token = token_source.token_urlsafe(32)
            self.secrets.set(API_TOKEN, token)
            log.info("generated a new local API token (read it with `posplugin secrets get api-token`)")
        return token

    def current_token(self) -> str:
        return self.token

    def rotate_token(self) -> str:
        """A new local API token; the old one stops working at once (POS apps must be given the new one)."""
        token = token_source.token_urlsafe(32)
        self.secrets.set(API_TOKEN, token)
        self.redactor.add_secret(token)
        self.token = token
        log.warning("the local API token was rotated; POS integrations need the new token")
        return token

    def set_api_key(self, api_key: str) -> None:
        self.redactor.add_secret(api_key)
        self.secrets.set(ENGAGE_API_KEY, api_key)
        self.client.set_api_key(api_key)
        self.api_key = api_key
        log.info("the Engage API key was replaced")
        self.worker.wake()

    # ---- live reconfiguration (settings page) ----------------------------------------------------------

    def settings_file(self) -> Path:
        return self.config_path or self.paths.data_dir / "config.toml"

    async def save_config(self, new: Config, api_key: str | None = None) -> list[str]:
        """Write ``new`` to the config file, then apply it. Returns the changed keys that need a restart.
        ``api_key`` replaces the Engage key together with the address (the settings page requires one when
        the address changes, so a PIN holder cannot point the agent, and its key, at their own server)."""
        path = self.settings_file()
        await asyncio.get_running_loop().run_in_executor(None, write_config, path, new)
        return await self.apply_config(new, api_key)

    async def apply_config(self, new: Config, api_key: str | None = None) -> list[str]:
        old, self.config = self.config, new
        restart: list[str] = []
        if api_key is not None:
            self.redactor.add_secret(api_key)
            self.secrets.set(ENGAGE_API_KEY, api_key)
            self.api_key = api_key
        if api_key is not None or (old.engage.base_url, old.agent.store_id, old.agent.till_id) != (
            new.engage.base_url,
            new.agent.store_id,
            new.agent.till_id,
        ):
            agent_name = user_agent(new.agent.store_id, new.agent.till_id, new.engage.user_agent_suffix)
            self.client.reconfigure(new.engage.base_url, agent_name, api_key)
            self.status.mark_unknown()
            self.worker.wake()
        if (old.printer, old.receipt, old.agent.store_id, old.agent.till_id) != (
            new.printer,
            new.receipt,
            new.agent.store_id,
            new.agent.till_id,
        ):
            printer = open_printer(new.printer, self.paths.data_dir / "printer.bin")
            await asyncio.get_running_loop().run_in_executor(None, self.receipts.reconfigure, new, printer)
        if old.scanner != new.scanner:
            sc = new.scanner
            rules = ScanRules(sc.strip_prefix, sc.strip_suffix, sc.max_length)
            self.members.settings = dataclasses.replace(self.members.settings, scan_rules=rules)
            await self._restart_scanner()
        self.cache.max_age = new.offline.member_cache_hours * 3600
        for key in ("port", "language", "data_dir", "log_dir"):
            if getattr(old.agent, key) != getattr(new.agent, key):
                restart.append(f"agent.{key}")
        live_offline = {"max_queued_per_till", "max_offline_hours", "cashier_wait"}
        for key, value in dataclasses.asdict(new.offline).items():
            if key not in live_offline and getattr(old.offline, key) != value:
                restart.append(f"offline.{key}")
        for key, value in dataclasses.asdict(new.engage).items():
            if key not in ("base_url",) and getattr(old.engage, key) != value:
                restart.append(f"engage.{key}")
        return restart

    # ---- lifecycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        self.paths.ensure()
        await asyncio.get_running_loop().run_in_executor(None, self.db.open)
        recovered = await self.outbox.recover(self.options.clock())
        if recovered:
            log.warning("%d operation(s) were on the wire when the agent stopped; reconciling them", recovered)
        self._tasks.append(asyncio.create_task(self.worker.run_forever(), name="outbox-worker"))
        loop = asyncio.get_running_loop()

        def print_finished(data: dict[str, Any]) -> None:  # on the printer's thread
            loop.call_soon_threadsafe(self.events.publish, "print", data)

        self.receipts.notify = print_finished
        self.receipts.start()
        if not self.client.has_api_key:
            log.warning("no Engage API key set; run `posplugin secrets set engage-api-key`")
        self._tasks.append(
            asyncio.create_task(
                self.status.probe_forever(self.client.probe, self.config.engage.probe_interval), name="engage-probe"
            )
        )
        self._start_scanner()
        log.info("posplugin %s started on 127.0.0.1:%d", __version__, self.config.agent.port)

    async def stop(self) -> None:
        if self._scanner is not None:
            self._scanner.stop()
        await self.worker.drain_in_flight()
        await self.enrolment.aclose()
        self.receipts.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.client.aclose()
        self.db.close()

    async def _redeemed_by_another_op(self, op: Op) -> bool:
        last = await self.outbox.last_confirmed(op.target_id)
        return last is not None and last.op_id != op.op_id and last.kind == VOUCHER_REDEEM

    def _engage_changed(self, state: str) -> None:
        self.events.publish("status", {"engage": state})
        if state == "online":
            self.worker.wake()

    def _queue_changed(self) -> None:
        """An op was added, retried or parked: open panels get the new queue count now, not at their next poll."""
        if self.events.subscriber_count:
            self._spawn(self._publish_queue())

    async def _publish_queue(self) -> None:
        self.events.publish("queue", await self.outbox.counts(self.options.clock()))

    def _op_final(self, op: Op) -> None:
        """Show the member's new vouchers on an open panel. Only when someone is watching, and once per member
        per few seconds: a queue draining after an outage must not triple its load on Engage."""
        if op.state != CONFIRMED:
            return
        if self.events.subscriber_count == 0:
            return
        now = self.options.clock()
        if now - self._refreshed.get(op.contact_id, 0.0) < MEMBER_REFRESH_INTERVAL:
            return
        self._refreshed[op.contact_id] = now
        self._spawn(self._refresh_member(op.contact_id))

    async def _refresh_member(self, contact_id: str) -> None:
        """After a voucher changed, refresh the member (cache and panel); failure here is harmless."""
        try:
            self.members.announce(await self.members.member(contact_id))
        except Exception as exc:
            log.info("member refresh after op failed: %s", type(exc).__name__)

    # ---- scanner ---------------------------------------------------------------------------------------

    async def _restart_scanner(self) -> None:
        if self._scanner is not None:
            scanner, self._scanner = self._scanner, None
            await asyncio.get_running_loop().run_in_executor(None, scanner.stop)
        self._start_scanner()

    def _start_scanner(self) -> None:
        from drivers.scanner import open_scanner

        loop = asyncio.get_running_loop()

        def on_frame(frame: bytes) -> None:
            loop.call_soon_threadsafe(lambda: self._spawn(self.handle_scan(frame, "serial")))

        self._scanner = open_scanner(self.config.scanner, on_frame)
        if self._scanner is not None:
            self._scanner.start()

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    async def handle_scan(self, frame: bytes, source: str) -> dict[str, Any]:
        """A hardware scan: decode, identify, and tell the panel through a `scan` event."""
        raw = frame.decode("utf-8", errors="replace")
        event: dict[str, Any] = {"source": source, "status": "error"}
        try:
            normalised = self.members.parse(raw)
            self.last_scan = {"raw": raw, "normalised": normalised.value}
            event["member"] = await self.members.identify(raw)
            event["status"] = "ok"
        except AgentError as exc:
            if exc.code == "invalid_code":
                self.last_scan = {"raw": raw, "normalised": None}
            event["error"] = {"code": exc.code, "message": exc.message}
        except Exception:  # a scan must never take the agent down
            log.exception("scan handling failed")
            event["error"] = {"code": "internal_error", "message": "scan failed"}
        self.events.publish("scan", event)
        return event

    # ---- health ----------------------------------------------------------------------------------------

    async def health(self) -> dict[str, Any]:
        queue = await self.outbox.counts(self.options.clock())
        health: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": round(self.options.clock() - self.started_at, 1),
            "engage": self.status.state,
            "engageLatencyMs": round(self.status.last_latency * 1000, 1) if self.status.last_latency else None,
            "features": sorted(self.features),
            "queue": queue,
            "printer": {"status": await self.receipts.refresh_status(), "backend": self.config.printer.backend},
            "scanner": {"backend": self.config.scanner.backend, "running": bool(self._scanner)},
        }
        level, reasons = assess(health)
        health["status"], health["reasons"] = LEVELS[level], reasons
        return health
