"""Typed configuration loaded from a TOML file (and the drop-ins beside it, see ``config_layers``).

Every key has a default, so an empty file is a valid config. Unknown keys, wrong types and bad values stop
start-up with one line naming the file and the key: a typo in a till's config must not be silently ignored.
Secrets (API key, API token, PIN hash) are deliberately *not* config keys; see ``secret_store``.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LANGUAGES = ("sv", "en")
# Engage lookup keys a scanned code may be tried against; `any` is deliberately absent (see engage-api.md).
LOOKUP_KEYS = ("customKey", "memberNumber", "externalId", "email", "mobilePhone", "socialSecurityNumber")
PRINTER_BACKENDS = ("file", "usb", "serial", "network", "win32raw", "none")
SCANNER_BACKENDS = ("none", "serial", "evdev")
SCANNER_FRAMINGS = ("CR", "LF", "CRLF", "gap")
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
UNPRINTABLE = ("Cc", "Cf", "Cs", "Zl", "Zp")  # control, format, surrogate, line and paragraph separators
LABEL_RULE = "at most {n} characters, no line breaks, tabs or other control characters, no leading/trailing space"


class ConfigError(ValueError):
    """A config problem, phrased as one line an IT admin can act on."""


def _check(predicate: Callable[[Any], bool], message: str) -> dict[str, object]:
    return {"check": (predicate, message)}


def _positive(value: Any) -> bool:
    return bool(value > 0)


def _port(value: Any) -> bool:
    return 1 <= int(value) <= 65535


def _engage_url(value: Any) -> bool:
    parts = urlsplit(str(value))
    if not parts.netloc or parts.query or parts.fragment:
        return False
    if parts.scheme == "https":
        return True
    # Plain http only towards this machine (the embedded simulator).
    return parts.scheme == "http" and (parts.hostname or "") in LOOPBACK_HOSTS


def _label(max_length: int) -> Callable[[Any], bool]:
    """Ids and names that end up in HTTP headers, receipts and logs: any letters (``Malmö C``), but no control
    or format characters (a newline would split a header or forge a log line) and a bounded length."""

    def check(value: Any) -> bool:
        text = str(value)
        return (
            len(text) <= max_length
            and text == text.strip()
            and not any(unicodedata.category(ch) in UNPRINTABLE for ch in text)
        )

    return check


def _origin(value: Any) -> bool:
    parts = urlsplit(str(value))
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        return False
    if parts.query or parts.fragment or parts.username or parts.password:
        return False
    try:
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError:
        return False
    return True


DEFAULT_PORTS = {"http": 80, "https": 443}


def normalise_origin(value: str) -> str:
    """An origin as browsers send it in ``Origin``: lower case, no trailing slash, no default port. Without
    this, ``https://POS.example/`` passes validation and never matches."""
    parts = urlsplit(value.strip())
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return f"{scheme}://{host}" + (f":{port}" if port is not None and port != DEFAULT_PORTS.get(scheme) else "")


@dataclass(frozen=True)
class AgentConfig:
    port: int = field(default=8765, metadata=_check(_port, "must be a TCP port 1-65535"))
    data_dir: str = ""
    log_dir: str = ""
    store_id: str = field(default="", metadata=_check(_label(64), LABEL_RULE.format(n=64)))
    till_id: str = field(default="", metadata=_check(_label(64), LABEL_RULE.format(n=64)))
    language: str = field(default="sv", metadata=_check(lambda v: v in LANGUAGES, f"must be one of {LANGUAGES}"))
    # The cashier panel empties itself this long after the last action (0 = never), so the next shopper does
    # not read the previous one's name and points.
    panel_idle_seconds: float = field(default=90.0, metadata=_check(lambda v: v >= 0, "must be >= 0 seconds"))


@dataclass(frozen=True)
class EngageConfig:
    base_url: str = field(
        default="http://127.0.0.1:8790",
        metadata=_check(_engage_url, "must be an https:// URL (http:// only for 127.0.0.1/localhost)"),
    )
    lookup_keys: list[str] = field(
        default_factory=lambda: ["customKey"],
        metadata=_check(
            lambda v: bool(v) and all(k in LOOKUP_KEYS for k in v), f"must be a non-empty list from {LOOKUP_KEYS}"
        ),
    )
    connect_timeout: float = field(default=3.0, metadata=_check(_positive, "must be > 0 seconds"))
    read_timeout: float = field(default=10.0, metadata=_check(_positive, "must be > 0 seconds"))
    long_read_timeout: float = field(
        default=75.0, metadata=_check(lambda v: v >= 60, "must be >= 60 seconds (vendor guidance for redeem)")
    )
    connect_retries: int = field(default=1, metadata=_check(lambda v: 0 <= v <= 5, "must be 0-5"))
    user_agent_suffix: str = field(default="", metadata=_check(_label(100), LABEL_RULE.format(n=100)))
    cashier_deadline: float = field(default=2.5, metadata=_check(_positive, "must be > 0 seconds"))
    breaker_failures: int = field(default=3, metadata=_check(lambda v: v >= 1, "must be >= 1"))
    probe_interval: float = field(default=10.0, metadata=_check(_positive, "must be > 0 seconds"))


BACKENDS = ("engage", "fabric")


@dataclass(frozen=True)
class LoyaltyConfig:
    # Which loyalty system this till talks to; its section ([engage] or [fabric]) says where and how.
    backend: str = field(default="engage", metadata=_check(lambda v: v in BACKENDS, f"must be one of {BACKENDS}"))


@dataclass(frozen=True)
class FabricConfig:
    base_url: str = field(
        default="http://127.0.0.1:8792/api",
        metadata=_check(_engage_url, "must be an https:// URL (http:// only for 127.0.0.1/localhost)"),
    )
    authorization_url: str = field(
        default="http://127.0.0.1:8792/oauth2/default",
        metadata=_check(_engage_url, "must be an https:// URL (http:// only for 127.0.0.1/localhost)"),
    )
    client_id: str = field(default="", metadata=_check(_label(200), LABEL_RULE.format(n=200)))
    # The store's entityReference / locationExternalReference in fabric.
    location: str = field(default="", metadata=_check(_label(100), LABEL_RULE.format(n=100)))
    connect_timeout: float = field(default=3.0, metadata=_check(_positive, "must be > 0 seconds"))
    read_timeout: float = field(default=10.0, metadata=_check(_positive, "must be > 0 seconds"))
    long_read_timeout: float = field(
        default=75.0, metadata=_check(lambda v: v >= 60, "must be >= 60 seconds (as for Engage's redeem)")
    )


@dataclass(frozen=True)
class ApiConfig:
    allowed_origins: list[str] = field(
        default_factory=list,
        metadata={
            **_check(lambda v: all(_origin(o) for o in v), "must be origins like http://pos.local:3000"),
            "normalise": lambda v: list(dict.fromkeys(normalise_origin(o) for o in v)),
        },
    )
    max_body_bytes: int = field(default=65536, metadata=_check(_positive, "must be > 0"))


@dataclass(frozen=True)
class OfflineConfig:
    member_cache_size: int = field(default=500, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    member_cache_hours: float = field(default=72.0, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    max_queued_per_till: int = field(default=50, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    max_offline_hours: float = field(default=24.0, metadata=_check(lambda v: v >= 0, "must be >= 0"))
    cashier_wait: float = field(default=5.0, metadata=_check(_positive, "must be > 0 seconds"))
    park_after_hours: float = field(default=72.0, metadata=_check(_positive, "must be > 0"))
    max_attempts: int = field(default=30, metadata=_check(lambda v: v >= 1, "must be >= 1"))
    retry_min_seconds: float = field(default=10.0, metadata=_check(_positive, "must be > 0 seconds"))
    retry_max_seconds: float = field(default=300.0, metadata=_check(_positive, "must be > 0 seconds"))
    worker_concurrency: int = field(default=4, metadata=_check(lambda v: 1 <= v <= 4, "must be 1-4"))
    max_requests_per_second: float = field(
        default=10.0, metadata=_check(lambda v: 0 < v <= 40, "must be > 0 and <= 40 (vendor limit is 50/s)")
    )
    tills_sharing_key: int = field(default=1, metadata=_check(lambda v: 1 <= v <= 100_000, "must be 1-100000"))
    # This till's place among the tills sharing the key (0 to tills_sharing_key - 1, each till its own): the
    # fleet then takes turns on the shared clock. -1: not known, the till draws a place at random.
    fleet_slot: int = field(default=-1, metadata=_check(lambda v: -1 <= v < 100_000, "must be -1 or 0-99999"))
    point_settle_seconds: float = field(default=600.0, metadata=_check(lambda v: v >= 0, "must be >= 0 seconds"))

    @property
    def slot(self) -> int | None:
        """This till's slot, if it is one of the fleet's (keys set in different files are checked together here:
        each file alone may leave the other to a drop-in)."""
        return self.fleet_slot if 0 <= self.fleet_slot < self.tills_sharing_key else None


@dataclass(frozen=True)
class PrinterConfig:
    backend: str = field(
        default="file", metadata=_check(lambda v: v in PRINTER_BACKENDS, f"must be one of {PRINTER_BACKENDS}")
    )
    file_path: str = ""
    usb_vendor_id: int = 0
    usb_product_id: int = 0
    serial_port: str = ""
    baudrate: int = field(default=38400, metadata=_check(_positive, "must be > 0"))
    flow_control: str = field(
        default="none", metadata=_check(lambda v: v in ("none", "rtscts", "xonxoff"), "must be none/rtscts/xonxoff")
    )
    host: str = ""
    tcp_port: int = field(default=9100, metadata=_check(_port, "must be a TCP port 1-65535"))
    windows_name: str = ""
    profile: str = "default"
    paper_mm: int = field(default=80, metadata=_check(lambda v: v in (58, 80), "must be 58 or 80"))
    columns: int = field(default=0, metadata=_check(lambda v: v == 0 or 16 <= v <= 64, "must be 0 (auto) or 16-64"))
    codepage: str = "CP858"
    timeout: float = field(default=5.0, metadata=_check(_positive, "must be > 0 seconds"))
    drawer_kick: bool = False


@dataclass(frozen=True)
class ScannerConfig:
    backend: str = field(
        default="none", metadata=_check(lambda v: v in SCANNER_BACKENDS, f"must be one of {SCANNER_BACKENDS}")
    )
    serial_port: str = ""
    baudrate: int = field(default=9600, metadata=_check(_positive, "must be > 0"))
    framing: str = field(
        default="CR", metadata=_check(lambda v: v in SCANNER_FRAMINGS, f"must be one of {SCANNER_FRAMINGS}")
    )
    gap_ms: int = field(default=60, metadata=_check(_positive, "must be > 0"))
    evdev_device: str = ""
    strip_prefix: str = ""
    strip_suffix: str = ""
    max_length: int = field(default=256, metadata=_check(lambda v: 8 <= v <= 4096, "must be 8-4096"))


@dataclass(frozen=True)
class ReceiptConfig:
    header: list[str] = field(default_factory=list)
    footer: list[str] = field(default_factory=list)
    logo_path: str = ""
    point_shop_qr: bool = True


CONSENT_ID_RULE = "a letter, then letters or digits (at most 64), as the loyalty system names it"
CONSENT_KINDS = ("preference", "consent")
CONSENT_REQUIRES = ("", "email", "mobilePhone")


def _consent_id(value: Any) -> bool:
    text = str(value)
    return 1 <= len(text) <= 64 and text[:1].isascii() and text[:1].isalpha() and text.isascii() and text.isalnum()


def _consent_text(value: Any) -> bool:
    return bool(str(value).strip()) and _label(500)(value)


@dataclass(frozen=True)
class ConsentConfig:
    """One question the till asks a new member, answered yes or no (never pre-ticked). ``kind = "preference"``
    is a contact preference (``acceptsEmail``, ``acceptsSms``); ``"consent"`` one of the tenant's consents.
    ``requires`` names the identifier the question is about: it is asked only when the member is enrolled with
    it (no SMS question for an e-mail enrolment)."""

    id: str = field(default="", metadata=_check(_consent_id, CONSENT_ID_RULE))
    kind: str = field(
        default="preference", metadata=_check(lambda v: v in CONSENT_KINDS, f"must be one of {CONSENT_KINDS}")
    )
    requires: str = field(
        default="", metadata=_check(lambda v: v in CONSENT_REQUIRES, f"must be one of {CONSENT_REQUIRES}")
    )
    sv: str = field(default="", metadata=_check(_consent_text, "the question in Swedish, 1-500 characters"))
    en: str = field(default="", metadata=_check(_consent_text, "the question in English, 1-500 characters"))


def _default_consents() -> list[ConsentConfig]:
    return [
        ConsentConfig(
            "acceptsEmail",
            "preference",
            "email",
            "Vill du få erbjudanden och nyheter från oss via e-post?",
            "Would you like to receive offers and news from us by e-mail?",
        ),
        ConsentConfig(
            "acceptsSms",
            "preference",
            "mobilePhone",
            "Vill du få erbjudanden och nyheter från oss via sms?",
            "Would you like to receive offers and news from us by text message?",
        ),
    ]


def _consents_complete(consents: Any) -> bool:
    ids = [c.id for c in consents]
    return len(ids) == len(set(ids)) and len(ids) <= 20 and all(c.id and c.sv and c.en for c in consents)


@dataclass(frozen=True)
class EnrolmentConfig:
    # Off: the panel shows no Enrol button and POST /api/v1/members answers 409 enrolment_disabled.
    enabled: bool = True
    # The store that recruits the member, as Engage knows it; "" = [agent] store_id. Enrolment needs one.
    store_external_id: str = field(default="", metadata=_check(_label(64), LABEL_RULE.format(n=64)))
    # The cashier waits at most this long (Engage's ~5 s limit, a lookup, one retry, the member view).
    deadline_seconds: float = field(default=20.0, metadata=_check(lambda v: 8 <= v <= 60, "must be 8-60 seconds"))
    consents: list[ConsentConfig] = field(
        default_factory=_default_consents,
        metadata=_check(_consents_complete, "each needs a unique id and both texts (sv, en); at most 20"),
    )


def _textfile_path(value: Any) -> bool:
    """Unset, or an absolute path (of this machine's kind) to a ``.prom`` file: the textfile collectors read
    only that suffix, and a relative path would depend on the service's working folder."""
    text = str(value)
    if not text:
        return True
    return os.path.isabs(text) and text.endswith(".prom") and _label(1024)(text)


@dataclass(frozen=True)
class MetricsConfig:
    # For node_exporter's / windows_exporter's textfile collector; unset (the default) writes nothing.
    textfile_path: str = field(
        default="", metadata=_check(_textfile_path, "must be empty or an absolute path to a file ending in .prom")
    )
    textfile_interval: float = field(default=15.0, metadata=_check(lambda v: 1 <= v <= 3600, "must be 1-3600 seconds"))


@dataclass(frozen=True)
class Config:
    agent: AgentConfig = field(default_factory=AgentConfig)
    loyalty: LoyaltyConfig = field(default_factory=LoyaltyConfig)
    engage: EngageConfig = field(default_factory=EngageConfig)
    fabric: FabricConfig = field(default_factory=FabricConfig)
    api: ApiConfig = field(default_factory=ApiConfig)
    offline: OfflineConfig = field(default_factory=OfflineConfig)
    printer: PrinterConfig = field(default_factory=PrinterConfig)
    scanner: ScannerConfig = field(default_factory=ScannerConfig)
    receipt: ReceiptConfig = field(default_factory=ReceiptConfig)
    enrolment: EnrolmentConfig = field(default_factory=EnrolmentConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    source: str = field(default="<defaults>", compare=False)


SECTIONS: dict[str, type[Any]] = {
    name: hint for name, hint in typing.get_type_hints(Config).items() if name != "source"
}


def load_config(path: Path | None) -> Config:
    """Read and validate ``path`` and the drop-ins in the ``conf.d`` folder beside it (``config_layers``);
    ``None`` gives the defaults."""
    from .config_layers import load_layers  # that module builds on this one

    return load_layers(path).effective


def config_from_mapping(raw: Mapping[str, Any], source: str = "<mapping>") -> Config:
    sections: dict[str, Any] = {}
    for name, value in raw.items():
        if name not in SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] (known: {', '.join(SECTIONS)})")
        if not isinstance(value, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        sections[name] = _build_section(SECTIONS[name], name, value, source)
    return Config(**sections, source=source)


def _build_section(cls: type[Any], section: str, values: Mapping[str, Any], source: str) -> Any:
    return _build_table(cls, values, f"{source}: [{section}] ")


def _build_table(cls: type[Any], values: Mapping[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in dataclasses.fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        where = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{where}: unknown key (known: {', '.join(known)})")
        kwargs[key] = _coerce(hints[key], value, where)
        check = known[key].metadata.get("check")
        if check is not None:
            predicate, message = check
            if not predicate(kwargs[key]):
                raise ConfigError(f"{where} = {value!r}: {message}")
        normalise = known[key].metadata.get("normalise")
        if normalise is not None:
            kwargs[key] = normalise(kwargs[key])
    return cls(**kwargs)


def _coerce(expected: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(expected)
    if origin is list:
        (item_type,) = typing.get_args(expected)
        if not isinstance(value, list):
            raise ConfigError(f"{where}: expected a list, got {_kind(value)}")
        return [_coerce(item_type, item, f"{where}[{i}]") for i, item in enumerate(value)]
    if dataclasses.is_dataclass(expected):  # a table inside a section ([[enrolment.consents]])
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: expected a table, got {_kind(value)}")
        return _build_table(typing.cast(type[Any], expected), value, f"{where}.")
    if isinstance(expected, types.UnionType):
        raise TypeError(f"unsupported config type {expected}")  # pragma: no cover - guards future edits
    if expected is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {_kind(value)}")
        return value
    if expected is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected a whole number, got {_kind(value)}")
        return value
    if expected is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{where}: expected a number, got {_kind(value)}")
        return float(value)
    if expected is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {_kind(value)}")
        return value
    raise TypeError(f"unsupported config type {expected}")  # pragma: no cover


def _kind(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def replace_section(config: Config, section: str, **changes: Any) -> Config:
    """A copy of ``config`` with keys of one section changed, validated like a loaded file."""
    current = dataclasses.asdict(getattr(config, section))
    current.update(changes)
    rebuilt = _build_section(SECTIONS[section], section, current, config.source)
    return dataclasses.replace(config, **{section: rebuilt})
