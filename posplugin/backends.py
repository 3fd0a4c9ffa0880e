"""The loyalty backends by name, as ``[loyalty] backend`` says: one module per vendor, looked up when needed.

Like pyserial's URL handlers (``serial.urlhandler.protocol_<scheme>``), a vendor is a module with a small face —
``SECRET`` (the name of its credential in the secret store), ``build(...)`` (its ``LoyaltyBackend``) and
``probe_once(config, secret)`` (one authenticated read, for the doctor) — imported by name, so the core never
imports a vendor package and a third vendor is one more entry here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Protocol, cast

import httpx

from .config import Config
from .loyalty.ports import LoyaltyBackend
from .outbox.store import OutboxStore

MODULES = {"engage": "posplugin.vendors.engage.backend", "fabric": "posplugin.vendors.fabric.backend"}


class VendorModule(Protocol):
    SECRET: str
    TITLE: str

    def build(
        self,
        config: Config,
        secret: Callable[[], str | None],
        store: OutboxStore,
        transport: httpx.AsyncBaseTransport | None,
        clock: Callable[[], float],
    ) -> LoyaltyBackend: ...

    async def probe_once(self, config: Config, secret: str | None) -> float: ...


def vendor(name: str) -> VendorModule:
    try:
        module = MODULES[name]
    except KeyError:
        raise ValueError(f"no loyalty backend {name!r} (known: {', '.join(MODULES)})") from None
    return cast(VendorModule, importlib.import_module(module))
