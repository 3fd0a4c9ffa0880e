"""The composition root: builds the agent's services from config and secrets, starts and stops them.

Nothing here runs at import; ``Agent`` is created by the CLI (or a test) and owned by the web app's lifespan.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
import secrets as token_source
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from drivers.printer import open_printer

from . import __version__
from .backends import vendor
from .config import Config
from .config_file import write_config
from .config_layers import ConfigLayers
from .database import Database
from .enrolment import EnrolmentService
from .enrolment_rules import EnrolmentSettings
from .errors import AgentError
from .events import EventBus
from .health_levels import LEVELS, assess
from .log_redaction import RedactingFilter
from .loyalty.enrolment import EnrolmentPort
from .loyalty.kinds import VOUCHER_REDEEM, op_view
from .loyalty.ports import ENROL, PRINT, CoreParts, ExecutorContext
from .loyalty.status import LoyaltyStatus
from .manager_pin import ManagerPin, PinGuard
from .member_cache import MemberCache
from .members import MemberService, MemberSettings
from .metrics import AgentMetrics, MetricsSources
from .ops import OpService
from .outbox.model import CONFIRMED, Op
from .outbox.pacing import till_gate
from .outbox.steady_clock import SteadyClock
from .outbox.store import Backoff, OutboxStore
from .outbox.worker import OutboxWorker
from .paths import AgentPaths
from .receipts.service import ReceiptService
from .redemptions import OfflineLimits, RedemptionService
from .sales import SalesService
from .scan_codes import ScanRules
from .secret_store import API_TOKEN, IMPORT_FOLDER, SecretStore, import_pending

log = logging.getLogger(__name__)
MEMBER_REFRESH_INTERVAL = 3.0  # seconds
# The vendor-section keys a running agent applies; a change to any other key there waits for a restart (the fabric
# client is built with its addresses and client id, while its location is read on every call).
LIVE_VENDOR_KEYS = {"engage": ("base_url",), "fabric": ("location",)}


@dataclass
class AgentOptions:
    """Seams for tests and the demo; production uses the defaults."""

    engage_transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], float] = time.time
    # Schedules and pacing (outbox backoff, rate limiter, "too old"); a separate seam so tests can step the wall
    # clock and see that nothing waits or parks because of it.
    monotonic: Callable[[], float] = time.monotonic
    # Seconds after sending a new member by which the vendor has saved it or rolled it back; None = the vendor's.
    enrolment_settle_seconds: float | None = None


class Agent:
    def __init__(
        self,
        config: Config,
        paths: AgentPaths,
        secret_store: SecretStore,
        redactor: RedactingFilter | None = None,
        options: AgentOptions | None = None,
        config_path: Path | None = None,
        layers: ConfigLayers | None = None,
    ) -> None:
        self.config = config
        # Where the settings page saves; None (defaults, no file) saves into the data folder's config.toml.
        self.config_path = config_path
        # The files behind ``config`` (the main file, conf.d drop-ins): the settings page writes the main one only.
        self.layers = layers or ConfigLayers.alone(config)
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
        self.vendor = vendor(config.loyalty.backend)
        api_key = secret_store.get(self.vendor.SECRET)
        self.api_key = api_key  # the credential in use (the settings page may replace it while running)
        self.redactor.add_secret(api_key)
        self.redactor.add_secret(self.token)
        # Sources read late (at exposition time): the services they name are built below.
        self.metrics = AgentMetrics(
            MetricsSources(
                config=lambda: self.config,
                loyalty_state=lambda: self.status.state,
                queue_counts=lambda: self.outbox.counts(self.options.clock()),
                printer_status=lambda: self.receipts.refresh_status(),
            )
        )
        self.db = Database(paths.database)
        self.cache = MemberCache(
            self.db, config.offline.member_cache_size, config.offline.member_cache_hours * 3600, self.options.clock
        )
        clock = self.options.clock

        offline = config.offline
        self.outbox = OutboxStore(
            self.db,
            offline.max_attempts,
            offline.park_after_hours * 3600,
            Backoff(offline.retry_min_seconds, offline.retry_max_seconds),
            SteadyClock(clock, self.options.monotonic),
        )
        # Every vendor request is timed for posplugin_loyalty_request_duration_seconds.
        transport = self.metrics.transport(
            self.options.engage_transport or httpx.AsyncHTTPTransport(retries=config.engage.connect_retries)
        )
        self.backend = self.vendor.build(
            config, lambda: self.api_key, self.outbox, self.cache, transport, self.options.clock
        )
        self.members = MemberService(
            self.backend.directory,
            self.backend.ids,
            self.cache,
            self.status,
            self.events,
            MemberSettings(
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
        executors = self.backend.executors(
            ExecutorContext(
                status=self.status,
                clock=clock,
                store=self.outbox,
                resolve_code=self.members.lookup_contact_id,
                redeemed_by_another_op=self._redeemed_by_another_op,
                settle_seconds=offline.point_settle_seconds,
            )
        )
        self.worker = OutboxWorker(
            self.outbox,
            dict(executors),
            self.status,
            self.events,
            clock,
            concurrency=offline.worker_concurrency,
            # Alone, a token bucket; in a fleet, turns on the shared clock at this till's slot too.
            limiter=till_gate(
                offline.max_requests_per_second,
                offline.tills_sharing_key,
                offline.slot,
                random.Random(),  # noqa: S311 - jitter, seeded from the OS so no two tills draw the same
                self.options.monotonic,
                self.options.clock,  # the fleet's shared clock
            ),
            server_offset=lambda: self.backend.server_offset,
            on_final=self._op_final,
            describe=lambda op: op_view(op, config.agent.language),
            monotonic=self.options.monotonic,
        )
        self.outbox.on_change = self._queue_changed
        self.metrics.expect_kinds(self.worker.executors)
        self.ops = OpService(
            self.outbox, self.worker, config.agent.language, clock, lambda: self.config.offline.cashier_wait
        )
        vouchers = self.backend.vouchers
        self.redemptions = (
            RedemptionService(
                self.ops,
                self.cache,
                self.status,
                lambda: OfflineLimits.from_config(self.config.offline),
                config.agent.language,
                clock,
                vouchers,
                self.backend.ids,
            )
            if vouchers is not None
            else None
        )
        self.receipts = ReceiptService(
            config,
            open_printer(config.printer, paths.data_dir / "printer.bin"),
            self.members,
            self.cache,
            self.backend.vouchers,
            self.backend.ids,
            clock,
            outbox=self.outbox,
        )
        self.receipts.on_job_end = self.metrics.print_ended
        capabilities = self.backend.capabilities(
            CoreParts(
                self.outbox,
                self.worker,
                self.ops,
                self.receipts,
                self.status,
                config.agent.language,
                clock,
                config.receipt.point_shop_qr,
                self.cache,
                lambda: OfflineLimits.from_config(self.config.offline),
            )
        )
        self.point_shop = capabilities.point_shop
        self.point_adjustments = capabilities.point_adjustments
        self.rewards = capabilities.rewards
        self.promotions = capabilities.promotions
        self.enrolment = self._enrolment(capabilities.enrolment)
        self.sales = SalesService(
            self.outbox,
            self.worker,
            self.members,
            self.backend.sales,
            self.events,
            store_id=lambda: self.config.agent.store_id,
            language=config.agent.language,
            clock=clock,
        )
        self.pin = ManagerPin(secret_store, PinGuard(self.db, clock), config.agent.language)
        self.features = {*self.backend.features, PRINT}
        if self.enrolment is None or not config.enrolment.enabled:
            self.features.discard(ENROL)
        self._tasks: list[asyncio.Task[Any]] = []
        self._scanner: Any = None
        self._refreshed: dict[str, float] = {}
        self.last_scan: dict[str, Any] | None = None

    def _enrolment(self, port: EnrolmentPort | None) -> EnrolmentService | None:
        if port is None:
            return None

        def settings() -> EnrolmentSettings:  # read at each call: the settings page may change the store id
            return EnrolmentSettings.from_config(self.config.enrolment, self.config.agent.store_id)

        return EnrolmentService(
            port,
            self.members,
            self.status,
            settings,
            self.config.agent.language,
            self.members.refusal,
            clock=self.options.clock,
            settle_seconds=self.options.enrolment_settle_seconds,
        )

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
        self.secrets.set(self.vendor.SECRET, api_key)
        self.backend.set_secret(api_key)
        self.api_key = api_key
        log.info("the %s credential (%s) was replaced", self.vendor.TITLE, self.vendor.SECRET)
        self.worker.wake()

    # ---- live reconfiguration (settings page) ----------------------------------------------------------

    def settings_file(self) -> Path:
        return self.config_path or self.paths.data_dir / "config.toml"

    async def save_config(self, new: Config, api_key: str | None = None) -> list[str]:
        """Write ``new`` to the config file, then apply it. Returns the changed keys that need a restart.
        ``api_key`` replaces the vendor's credential together with the address (the settings page requires one when
        the address changes, so a PIN holder cannot point the agent, and its key, at their own server)."""
        path = self.settings_file()
        layers = self.layers.changed_to(new)  # the changed keys only: no drop-in value is copied into the file
        await asyncio.get_running_loop().run_in_executor(None, write_config, path, layers.main, layers.main_keys)
        self.layers = layers
        return await self.apply_config(layers.effective, api_key)

    async def apply_config(self, new: Config, api_key: str | None = None) -> list[str]:
        old, self.config = self.config, new
        restart: list[str] = []
        if api_key is not None:
            self.redactor.add_secret(api_key)
            self.secrets.set(self.vendor.SECRET, api_key)
            self.api_key = api_key
        if self.backend.reconfigure(new, api_key):
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
            self.members.use_scan_rules(rules)
            await self._restart_scanner()
        self.cache.keep_for(new.offline.member_cache_hours * 3600)
        for key in ("port", "language", "data_dir", "log_dir"):
            if getattr(old.agent, key) != getattr(new.agent, key):
                restart.append(f"agent.{key}")
        live_offline = {"max_queued_per_till", "max_offline_hours", "cashier_wait"}
        for key, value in dataclasses.asdict(new.offline).items():
            if key not in live_offline and getattr(old.offline, key) != value:
                restart.append(f"offline.{key}")
        for section, live in LIVE_VENDOR_KEYS.items():
            before, after = getattr(old, section), getattr(new, section)
            for key, value in dataclasses.asdict(after).items():
                if key not in live and getattr(before, key) != value:
                    restart.append(f"{section}.{key}")
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
        if not self.backend.has_credentials:
            log.warning("no %s credential set; run `posplugin secrets set %s`", self.vendor.TITLE, self.vendor.SECRET)
        self._tasks.append(
            asyncio.create_task(
                # In the till's paced turns: a fleet's probes share its budget, and offline a queued op probes.
                self.status.probe_forever(
                    lambda: self.worker.probe(self.backend.probe), self.config.engage.probe_interval
                ),
                name="loyalty-probe",
            )
        )
        if self.config.metrics.textfile_path:
            self._tasks.append(asyncio.create_task(self.metrics.textfile.run_forever(), name="metrics-textfile"))
        self._start_scanner()
        log.info("posplugin %s started on 127.0.0.1:%d", __version__, self.config.agent.port)

    async def stop(self) -> None:
        if self._scanner is not None:
            self._scanner.stop()
        await self.worker.drain_in_flight()
        if self.enrolment is not None:
            await self.enrolment.aclose()
        self.receipts.stop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.backend.aclose()
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
        per few seconds: a queue draining after an outage must not triple its load on the loyalty system."""
        self.metrics.op_final(op)
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
            event["member"] = await self.metrics.timed_identify(self.members.identify(raw))
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
        latency = round(self.status.last_latency * 1000, 1) if self.status.last_latency else None
        health: dict[str, Any] = {
            "status": "ok",
            "version": __version__,
            "uptimeSeconds": round(self.options.clock() - self.started_at, 1),
            "backend": self.backend.name,
            "loyalty": self.status.state,
            "loyaltyLatencyMs": latency,
            "engage": self.status.state,
            "engageLatencyMs": latency,
            "features": sorted(self.features),
            "queue": queue,
            "printer": {"status": await self.receipts.refresh_status(), "backend": self.config.printer.backend},
            "scanner": {"backend": self.config.scanner.backend, "running": bool(self._scanner)},
        }
        level, reasons = assess(health)
        health["status"], health["reasons"] = LEVELS[level], reasons
        return health
