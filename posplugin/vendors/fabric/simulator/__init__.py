"""An embedded fabric Loyalty simulator: a real HTTP server on loopback, at least as strict as fabric's docs."""

from .demo_data import DEMO_LOCATION, seed_demo_data
from .server import FabricSimulator
from .state import FabricState, SimError

__all__ = ["DEMO_LOCATION", "FabricSimulator", "FabricState", "SimError", "seed_demo_data"]
