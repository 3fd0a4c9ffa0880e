"""A real fabric simulator on loopback and clients for it."""

from __future__ import annotations

from typing import Any

from posplugin.vendors.fabric.client import FabricClient
from posplugin.vendors.fabric.simulator import FabricSimulator

ANNA = "c7a1e0f2-5b1d-4f3e-9a51-000000000011"  # 1200 Base points
ERIK = "c7a1e0f2-5b1d-4f3e-9a51-000000000029"  # 500 unrestricted, 400 restricted to store-002
SARA = "c7a1e0f2-5b1d-4f3e-9a51-000000000037"  # 20 points
STORE = "store-001"


def client_for(sim: FabricSimulator, secret: str | None = None, **kwargs: Any) -> FabricClient:
    state = sim.state
    return FabricClient(
        sim.url, sim.authorization_url, state.client_id, lambda: secret or state.client_secret, **kwargs
    )
