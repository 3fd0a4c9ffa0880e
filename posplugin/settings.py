"""What the store manager's settings page reads and changes.

Only the keys listed in ``EDITABLE`` can be changed here; the rest (folders, port, timeouts) belong to IT and
the config file. A change is validated by the config loader's own rules, written to the config file, applied to
the running agent where that is possible, and logged by key (never with a secret in it). A key a ``conf.d``
drop-in sets is managed centrally: shown with its file, never changed here (409 ``setting_managed``).
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections import deque
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import BACKENDS, ConfigError, replace_section
from .config_layers import dropin_folder, inside_dropin_folder
from .errors import AgentError
from .loyalty.errors import LoyaltyAuthError, LoyaltyBadAnswer, LoyaltyError, LoyaltyHTTPError
from .printer_target import check_printer_target
from .secret_store import ENV_VARS, SecretStoreError, mask_secret
from .texts import message

if TYPE_CHECKING:
    from .agent import Agent

log = logging.getLogger(__name__)

# A vendor's section (named like its backend) is on the page only while that backend is in use; [loyalty] backend
# itself is IT's (it takes a restart) and is shown, never changed, here.
EDITABLE: dict[str, tuple[str, ...]] = {
    "engage": ("base_url",),
    "fabric": ("base_url", "authorization_url", "client_id", "location"),
    "agent": ("store_id", "till_id", "language"),
    "printer": (
        "backend",
        "file_path",
        "serial_port",
        "baudrate",
        "flow_control",
        "host",
        "tcp_port",
        "usb_vendor_id",
        "usb_product_id",
        "windows_name",
        "profile",
        "paper_mm",
        "columns",
        "codepage",
        "drawer_kick",
    ),
    "scanner": (
        "backend",
        "serial_port",
        "baudrate",
        "framing",
        "gap_ms",
        "evdev_device",
        "strip_prefix",
        "strip_suffix",
    ),
    "offline": ("max_queued_per_till", "max_offline_hours", "cashier_wait", "member_cache_hours"),
    "api": ("allowed_origins",),
}
# Where a vendor's credential is sent: a new value for any of these is accepted only with the credential re-entered.
ADDRESS_KEYS: dict[str, tuple[str, ...]] = {"engage": ("base_url",), "fabric": ("base_url", "authorization_url")}
SECRET_REQUIRED = {"engage": "api_key_required", "fabric": "client_secret_required"}  # the text for each vendor
LOG_LINES = 200
MAX_API_KEY_LENGTH = 512


class SettingsService:
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    @property
    def language(self) -> str:
        return self.agent.config.agent.language

    def _error(self, status: int, code: str, detail: str = "") -> AgentError:
        text = message(code, self.language)
        return AgentError(status, code, f"{text} ({detail})" if detail else text)

    @property
    def backend(self) -> str:
        return self.agent.config.loyalty.backend

    def editable(self) -> dict[str, tuple[str, ...]]:
        """The sections this page shows and changes: the common ones and the section of the backend in use."""
        return {name: keys for name, keys in EDITABLE.items() if name not in BACKENDS or name == self.backend}

    # ---- reading ---------------------------------------------------------------------------------------

    def view(self) -> dict[str, Any]:
        config = self.agent.config
        editable = self.editable()
        sections = {name: {key: getattr(getattr(config, name), key) for key in keys} for name, keys in editable.items()}
        layers = self.agent.layers
        managed = {
            name: {key: str(owner) for key in keys if (owner := layers.managed_by(name, key)) is not None}
            for name, keys in editable.items()
        }
        secret = self.agent.vendor.SECRET
        return {
            "sections": sections,
            "managed": {name: keys for name, keys in managed.items() if keys},
            "loyalty": {
                "backend": self.backend,
                "title": self.agent.backend.title,
                "secret": secret,
                "features": sorted(self.agent.features),
                "origin": layers.origin("loyalty", "backend"),  # a drop-in, the main file or "default"
            },
            "apiKey": {
                "set": bool(self.agent.api_key),
                "last4": mask_secret(self.agent.api_key),
                "from": self.agent.secrets.source(secret).backend,
            },
            "configFile": str(self.agent.settings_file()),
            "serialPorts": serial_ports(),
            "engage": self.agent.status.state,
        }

    def log_tail(self, lines: int = LOG_LINES) -> dict[str, Any]:
        """The last lines of the log file. Every line went through the redaction filter before it was written."""
        path = self.agent.paths.log_file
        if not path.exists():
            return {"file": str(path), "lines": []}
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            tail = deque(handle, maxlen=lines)
        return {"file": str(path), "lines": [line.rstrip("\n") for line in tail]}

    def last_scan(self) -> dict[str, Any]:
        return {"scan": self.agent.last_scan}

    def normalise(self, raw: str) -> dict[str, Any]:
        """What the agent makes of a scanned code with the current prefix/suffix rules (no Engage lookup)."""
        try:
            code = self.agent.members.parse(raw)
        except AgentError as exc:
            return {"raw": raw, "normalised": None, "error": exc.message}
        return {"raw": raw, "normalised": code.value, "kind": code.kind}

    # ---- changing --------------------------------------------------------------------------------------

    async def save(self, section: str, values: dict[str, Any], api_key: str | None = None) -> dict[str, Any]:
        allowed = self.editable().get(section)
        if section == "loyalty":
            raise self._error(
                422, "invalid_setting", "[loyalty] backend is set by IT in the config file; a change needs a restart"
            )
        if section in BACKENDS and allowed is None:
            detail = f"[{section}] is not in use: this till's backend is {self.backend}"
            raise self._error(404, "invalid_setting", detail)
        if allowed is None:
            raise self._error(404, "invalid_setting", f"no section [{section}] on this page")
        unknown = sorted(set(values) - set(allowed))
        if unknown:
            raise self._error(422, "invalid_setting", f"[{section}] {', '.join(unknown)} cannot be changed here")
        config = self.agent.config
        values = self._without_managed(section, values)
        try:
            new = replace_section(config, section, **values)
            check_printer_target(new, self.agent.paths, self.agent.settings_file())
        except ConfigError as exc:
            raise self._error(422, "invalid_setting", str(exc).removeprefix(f"{config.source}: ")) from None
        if section == "printer" and new.printer.backend == "file" and new.printer.file_path:
            if inside_dropin_folder(Path(new.printer.file_path), self.agent.settings_file()):
                # Printer bytes in a drop-in would stop the agent at its next start.
                folder = dropin_folder(self.agent.settings_file())
                raise self._error(422, "invalid_setting", f"[printer] file_path is inside the drop-in folder {folder}")
        before = getattr(config, section)
        changed = {k: (getattr(before, k), v) for k, v in dataclasses.asdict(getattr(new, section)).items()}
        changed = {k: pair for k, pair in changed.items() if pair[0] != pair[1]}
        key = self._checked_key(api_key) if api_key is not None else None
        if set(changed) & set(ADDRESS_KEYS.get(section, ())) and key is None:
            # The key is write-only; without this, a PIN holder could send it to any server of theirs.
            raise AgentError(422, "api_key_required", message(SECRET_REQUIRED[section], self.language))
        if not changed:
            if key is not None:
                return {**self.set_api_key(key), "saved": False, "changed": [], "restartNeeded": []}
            return {"saved": False, "changed": [], "restartNeeded": []}
        try:
            restart = await self.agent.save_config(new, key)
        except (OSError, ConfigError) as exc:
            log.error("settings: could not write %s: %s", self.agent.settings_file(), exc)
            raise self._error(500, "config_not_writable", type(exc).__name__) from None
        for key, (old_value, new_value) in changed.items():
            log.info("settings: [%s] %s changed from %r to %r", section, key, old_value, new_value)
        return {"saved": True, "changed": sorted(changed), "restartNeeded": restart}

    def _without_managed(self, section: str, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` without the keys a drop-in sets. The page sends a whole section, so a managed key sent with
        the value in effect is no change and is dropped; any other value for it is refused."""
        config, layers = self.agent.config, self.agent.layers
        kept: dict[str, Any] = {}
        for key, value in values.items():
            owner = layers.managed_by(section, key)
            if owner is None:
                kept[key] = value
                continue
            try:
                tried = replace_section(config, section, **{key: value})
            except ConfigError:
                tried = None
            unchanged = tried is not None and getattr(tried, section) == getattr(config, section)
            if not unchanged:
                log.warning("settings: [%s] %s not changed: it is managed centrally in %s", section, key, owner)
                raise self._error(409, "setting_managed", f"[{section}] {key} is set in {owner}")
        return kept

    def _checked_key(self, value: str) -> str:
        value = value.strip()
        if not value or len(value) > MAX_API_KEY_LENGTH or any(ch.isspace() or not ch.isprintable() for ch in value):
            raise self._error(422, "invalid_setting", f"the {self.agent.vendor.SECRET} is one word without spaces")
        return value

    def set_api_key(self, value: str) -> dict[str, Any]:
        value = self._checked_key(value)
        try:
            self.agent.set_api_key(value)
        except SecretStoreError as exc:
            log.error("settings: the API key could not be stored: %s", exc)
            raise self._error(500, "config_not_writable", "secret store") from None
        result: dict[str, Any] = {"set": True, "last4": mask_secret(value)}
        secret = self.agent.vendor.SECRET
        if self.agent.secrets.source(secret).backend == "env":
            # In use now, but after a restart the environment variable wins again.
            result["note"] = f"{ENV_VARS[secret]} is set for this agent and replaces this key after a restart"
        return result

    async def test_connection(self) -> dict[str, Any]:
        backend = self.agent.backend
        vendor = backend.title
        result: dict[str, Any] = {"baseUrl": backend.address, "keySet": backend.has_credentials}
        started = time.perf_counter()
        try:
            latency = await backend.probe()
        except LoyaltyAuthError as exc:
            result.update(
                reachable=True, keyValid=False, message=f"{vendor} refused the {backend.credential} (HTTP {exc.status})"
            )
        except LoyaltyBadAnswer as exc:
            # A redirect or an HTML page: something answered, but not the vendor (portal, proxy, wrong address).
            self.agent.status.record_failure(exc)
            result.update(reachable=False, keyValid=None, message=f"this address does not answer like {vendor}: {exc}")
        except LoyaltyHTTPError as exc:
            result.update(reachable=True, keyValid=None, message=f"{vendor} answered with an error: {exc}")
        except LoyaltyError as exc:
            self.agent.status.record_failure(exc)
            result.update(reachable=False, keyValid=None, message=f"{vendor} did not answer usefully: {exc}")
        else:
            self.agent.status.record_success(latency)
            result.update(reachable=True, keyValid=True, latencyMs=round(latency * 1000, 1), message="ok")
        result.setdefault("latencyMs", round((time.perf_counter() - started) * 1000, 1))
        log.info("settings: connection test: reachable=%s key valid=%s", result["reachable"], result["keyValid"])
        return result


def serial_ports() -> list[dict[str, str]]:
    """Serial ports pyserial can see (USB CDC scanners show up as /dev/ttyACM*, COMn)."""
    try:
        from serial.tools import list_ports
    except ImportError:  # pragma: no cover - pyserial is a dependency
        return []
    ports = []
    for port in sorted(list_ports.comports(), key=lambda p: p.device):
        stable = _by_id_name(port.device)
        ports.append({"device": stable or port.device, "description": port.description or ""})
    return ports


def _by_id_name(device: str) -> str | None:
    """The /dev/serial/by-id/ link for a device: it survives re-plugging, unlike ttyACM0/1 numbering."""
    folder = Path("/dev/serial/by-id")
    if not folder.is_dir():
        return None
    for link in folder.iterdir():
        try:
            if link.resolve() == Path(device).resolve():
                return str(link)
        except OSError:
            continue
    return None
