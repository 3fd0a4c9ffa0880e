"""``posplugin doctor``: one line per check with ok/FAIL and what to do about a failure."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .backends import vendor
from .config import Config
from .database import DatabaseError, open_connection, schema_version
from .loyalty.errors import LoyaltyAuthError, LoyaltyError
from .paths import AgentPaths
from .secret_store import API_TOKEN, SecretStore, SecretStoreError


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""

    def line(self) -> str:
        text = f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<10} {self.detail}"
        return text + (f"\n      fix: {self.fix}" if not self.ok and self.fix else "")


def run_checks(config: Config, paths: AgentPaths, secrets: SecretStore, print_test: bool = False) -> list[Check]:
    checks = [Check("version", True, __version__), _check_config(config), check_fleet(config)]
    checks.append(_check_data(paths))
    checks.append(_check_queue(paths))
    checks.append(_check_agent(config))
    checks.extend(_check_secrets(config, secrets))
    checks.append(asyncio.run(_check_loyalty(config, secrets)))
    checks.append(_check_printer(config, paths))
    if print_test:
        checks.append(test_print(config, paths))
    checks.append(_check_scanner(config))
    return checks


def test_print(config: Config, paths: AgentPaths) -> Check:
    """Render the test page and send it straight to the printer (the agent need not run)."""
    from drivers.printer import PrinterError, open_printer

    from .receipts.composer import ReceiptComposer
    from .receipts.encoding import CodePageError
    from .receipts.templates import TEST_PAGE

    printer = open_printer(config.printer, paths.data_dir / "printer.bin")
    if printer is None:
        return Check("test print", False, "no printer configured", "set [printer] backend")
    try:
        composer = ReceiptComposer(config, time.time)
        data = composer.render(TEST_PAGE, composer.test_context())
        printer.write(data)
    except CodePageError as exc:
        return Check("test print", False, str(exc), "fix [printer] profile / codepage")
    except PrinterError as exc:
        return Check("test print", False, f"{printer.name}: {exc}", "check power, cable, paper and [printer] settings")
    finally:
        printer.close()
    return Check("test print", True, f"{len(data)} bytes sent to {printer.name}")


def as_json(checks: list[Check]) -> dict[str, object]:
    return {"ok": all(c.ok for c in checks), "version": __version__, "checks": [asdict(c) for c in checks]}


def check_fleet(config: Config) -> Check:
    """The till's place in a fleet sharing one key: a slot outside the fleet is a typo that costs the fleet
    its turn-taking, so it is called out (the agent then draws a place at random, as with no slot)."""
    offline = config.offline
    if offline.tills_sharing_key == 1:
        return Check("fleet", True, "a till alone on its key")
    if offline.slot is not None:
        return Check("fleet", True, f"slot {offline.slot} of {offline.tills_sharing_key} tills sharing the key")
    if offline.fleet_slot == -1:
        return Check(
            "fleet",
            True,
            f"one of {offline.tills_sharing_key} tills sharing the key, at a random place (no [offline] fleet_slot)",
        )
    return Check(
        "fleet",
        False,
        f"[offline] fleet_slot = {offline.fleet_slot} is not below tills_sharing_key = {offline.tills_sharing_key}",
        "give each till its own fleet_slot from 0 to tills_sharing_key - 1 (docs/fleet-pacing.md)",
    )


def _check_config(config: Config) -> Check:
    if config.source == "<defaults>":
        # Checking the built-in defaults says nothing about the till's agent: it reads its own file.
        return Check(
            "config",
            False,
            "no config file found; only the built-in defaults were checked",
            "give the agent's file: posplugin doctor --config /etc/posplugin/config.toml (or set POSPLUGIN_CONFIG)",
        )
    return Check("config", True, config.source)


def _check_data(paths: AgentPaths) -> Check:
    if not paths.database.exists():
        # Never create one here: an empty database would hide where the agent really keeps its queue.
        return Check("database", True, f"{paths.database} not created yet (the agent has not run with this config)")
    try:
        conn = open_connection(paths.database)
        version = schema_version(conn)
        conn.close()
    except (OSError, sqlite3.Error, DatabaseError) as exc:
        return Check("database", False, str(exc), f"make {paths.data_dir} writable by the service user")
    return Check("database", True, f"{paths.database} (schema {version}, integrity ok)")


def _check_queue(paths: AgentPaths) -> Check:
    """Waiting work and work that needs a person (parked, conflict): what a fleet dashboard watches."""
    if not paths.database.exists():
        return Check("queue", True, "empty (no database yet)")
    try:
        with sqlite3.connect(paths.database) as conn:
            rows = dict(conn.execute("SELECT state, count(*) FROM ops GROUP BY state").fetchall())
            oldest = conn.execute(
                "SELECT min(created_at) FROM ops WHERE state IN ('CAPTURED', 'SENDING', 'UNKNOWN')"
            ).fetchone()[0]
    except sqlite3.Error as exc:
        return Check("queue", False, f"cannot read the queue: {exc}", "see the database check")
    waiting = sum(rows.get(s, 0) for s in ("CAPTURED", "SENDING", "UNKNOWN"))
    stuck = rows.get("PARKED", 0) + rows.get("CONFLICT", 0)
    age = f", oldest {(time.time() - oldest) / 60:.0f} min" if oldest else ""
    detail = f"{waiting} waiting{age}; {rows.get('PARKED', 0)} parked, {rows.get('CONFLICT', 0)} conflict"
    fix = "a person decides: settings page → Queue (Retry / Park / Resolve), or posplugin queue list|retry|resolve"
    return Check("queue", stuck == 0, detail, fix)


def agent_health(config: Config, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running agent's ``/api/v1/health``, or None when it does not answer (or answers nonsense)."""
    import httpx

    try:
        health = httpx.get(f"http://127.0.0.1:{config.agent.port}/api/v1/health", timeout=timeout).json()
    except (httpx.HTTPError, ValueError):
        return None
    return health if isinstance(health, dict) else None


def _check_agent(config: Config) -> Check:
    """Is the agent itself running? Informational: the doctor also runs before the first start."""
    health = agent_health(config)
    if health is None:
        return Check("agent", True, f"not answering on 127.0.0.1:{config.agent.port} (not started?)")
    return Check(
        "agent",
        True,
        f"{health.get('version')} up {health.get('uptimeSeconds')} s,"
        f" {health.get('backend', 'engage')} {health.get('loyalty', health.get('engage'))}",
    )


def _check_secrets(config: Config, secrets: SecretStore) -> list[Check]:
    results = []
    credential = vendor(config.loyalty.backend).SECRET
    for name, fix in (
        (credential, f"posplugin secrets set {credential} < keyfile"),
        (API_TOKEN, "start the agent once (it creates a token) or: posplugin secrets set api-token"),
    ):
        try:
            source = secrets.source(name)
        except SecretStoreError as exc:
            results.append(Check(name, False, str(exc), fix))
            continue
        detail = f"set ({source.backend})" if source.present else "missing"
        results.append(Check(name, source.present, detail, fix))
    return results


async def _check_loyalty(config: Config, secrets: SecretStore) -> Check:
    name = config.loyalty.backend
    module = vendor(name)
    address = getattr(config, name).base_url
    try:
        key = secrets.get(module.SECRET)
    except SecretStoreError:
        key = None
    try:
        latency = await module.probe_once(config, key)
    except LoyaltyAuthError:
        return Check(
            name,
            False,
            f"{address} refused the credentials",
            f"set the right one: posplugin secrets set {module.SECRET}",
        )
    except LoyaltyError as exc:
        return Check(name, False, f"{address}: {exc}", f"check the network, proxy and [{name}] base_url")
    return Check(name, True, f"{address} answered in {latency * 1000:.0f} ms")


def _check_printer(config: Config, paths: AgentPaths) -> Check:
    from drivers.printer import PRINTABLE, open_printer

    from .receipts.encoding import CodePageError, code_page

    try:
        code_page(config.printer.profile, config.printer.codepage)
    except CodePageError as exc:
        return Check("printer", False, str(exc), "use a code page the profile lists, e.g. CP858")
    printer = open_printer(config.printer, paths.data_dir / "printer.bin")
    if printer is None:
        return Check("printer", True, "no printer configured")
    try:
        status = printer.status()
    finally:
        printer.close()
    if status in PRINTABLE:
        return Check("printer", True, f"{printer.name}: {status}")
    return Check("printer", False, f"{printer.name}: {status}", "check power, cable, paper and the cover")


def _check_scanner(config: Config) -> Check:
    scanner = config.scanner
    if scanner.backend == "none":
        return Check("scanner", True, "keyboard-wedge scanning through the panel")
    if scanner.backend == "serial":
        from serial.tools import list_ports

        ports = [p.device for p in list_ports.comports()]
        if scanner.serial_port in ports or "://" in scanner.serial_port:
            return Check("scanner", True, f"serial {scanner.serial_port}")
        return Check(
            "scanner",
            False,
            f"serial port {scanner.serial_port!r} not present (have: {ports or 'none'})",
            "plug the scanner in or fix [scanner] serial_port",
        )
    device = Path(scanner.evdev_device)
    if device.exists() and os.access(device, os.R_OK):
        return Check("scanner", True, f"evdev {device}")
    return Check("scanner", False, f"cannot read {device}", "install the udev rule and add the user to its group")
