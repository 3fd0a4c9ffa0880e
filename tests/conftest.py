"""Shared fixtures: a real simulator on loopback and the real agent served by uvicorn in a thread."""

from __future__ import annotations

import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.agent import Agent, AgentOptions
from posplugin.config import Config, config_from_mapping
from posplugin.paths import resolve_paths
from posplugin.secret_store import FileBackend, SecretStore
from posplugin.vendors.engage.simulator import EngageSimulator, SimState, seed_demo_data
from posplugin.vendors.fabric.simulator import FabricSimulator, FabricState
from posplugin.vendors.fabric.simulator import seed_demo_data as seed_demo_data_fabric
from posplugin.web.serve import build_server

API_KEY = "test-api-key-0123456789"
# Whole files whose tests are long end-to-end runs (subprocesses, bundles, fuzzing): marked `slow`, so
# `make test-fast` can leave them out. Everything under tests/ui drives Chromium: marked `browser`.
SLOW_FILES = frozenset(
    {
        "test_crash_recovery.py",
        "test_fabric_crash.py",
        "test_linux_install.py",
        "test_deb_package.py",
        "test_msi_package.py",
        "test_schemathesis.py",
        "test_generated_client.py",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        path = item.path
        if path.name in SLOW_FILES:
            item.add_marker(pytest.mark.slow)
        if path.parent.name == "ui":
            item.add_marker(pytest.mark.browser)


@pytest.fixture(autouse=True, scope="session")
def _fast_thread_switching() -> Iterator[None]:
    # Simulator, agent and test share one process; a short GIL switch interval keeps their handoffs from
    # adding the default 5 ms to every request.
    previous = sys.getswitchinterval()
    sys.setswitchinterval(0.0005)
    yield
    sys.setswitchinterval(previous)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sim() -> Iterator[EngageSimulator]:
    simulator = EngageSimulator(seed_demo_data(SimState()), api_key=API_KEY, control_port=0).start()
    yield simulator
    simulator.stop()


def make_config(tmp_path: Path, sim_url: str, port: int, **sections: dict[str, Any]) -> Config:
    raw: dict[str, dict[str, Any]] = {
        "agent": {
            "port": port,
            "data_dir": str(tmp_path / "data"),
            "log_dir": str(tmp_path / "logs"),
            "store_id": "s1",
            "till_id": "t1",
            "language": "en",
        },
        "engage": {"base_url": sim_url, "probe_interval": 0.2, "cashier_deadline": 1.0, "read_timeout": 5.0},
        "printer": {"backend": "file", "file_path": str(tmp_path / "printer.bin")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    return config_from_mapping(raw, source="<test>")


@dataclass
class RunningAgent:
    agent: Agent
    base_url: str
    server: Any
    thread: threading.Thread

    @property
    def token(self) -> str:
        return self.agent.token

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"X-POS-Token": self.token}, timeout=30, **kwargs)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def start_agent(config: Config, environ: dict[str, str] | None = None, **options: Any) -> RunningAgent:
    paths = resolve_paths(config)
    paths.ensure()
    env = {"POSPLUGIN_ENGAGE_API_KEY": API_KEY} if environ is None else environ
    store = SecretStore(paths.data_dir, env, backend=FileBackend(paths.secrets_file))
    agent = Agent(config, paths, store, options=AgentOptions(**options))
    server = build_server(agent)
    thread = threading.Thread(target=server.run, daemon=True, name="agent-under-test")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("agent did not start")
        time.sleep(0.02)
    return RunningAgent(agent, f"http://127.0.0.1:{config.agent.port}", server, thread)


@pytest.fixture
def agent_factory(tmp_path: Path, sim: EngageSimulator) -> Iterator[Any]:
    running: list[RunningAgent] = []

    def factory(
        environ: dict[str, str] | None = None, options: dict[str, Any] | None = None, **sections: dict[str, Any]
    ) -> RunningAgent:
        config = make_config(tmp_path, sim.url, free_port(), **sections)
        agent = start_agent(config, environ, **(options or {}))
        running.append(agent)
        return agent

    yield factory
    for agent in running:
        agent.stop()


FAST_RETRY = {"retry_min_seconds": 0.05, "retry_max_seconds": 0.2}


@pytest.fixture
def fast_agent(agent_factory: Any) -> RunningAgent:
    """An agent whose outbox retries within a fraction of a second."""
    agent: RunningAgent = agent_factory(offline=FAST_RETRY)
    return agent


@pytest.fixture
def running(agent_factory: Any) -> RunningAgent:
    agent: RunningAgent = agent_factory()
    return agent


def wait_for(predicate: Any, timeout: float = 10.0, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


# ---- the agent on the fabric backend --------------------------------------------------------------------------

FABRIC_STORE = "store-001"  # the demo members' home location in the fabric simulator


@pytest.fixture
def fabric() -> Iterator[FabricSimulator]:
    simulator = FabricSimulator(seed_demo_data_fabric(FabricState())).start()
    yield simulator
    simulator.stop()


def fabric_agent(tmp_path: Path, sim: FabricSimulator, **sections: dict[str, Any]) -> RunningAgent:
    raw: dict[str, dict[str, Any]] = {
        "agent": {
            "port": free_port(),
            "data_dir": str(tmp_path / "data"),
            "log_dir": str(tmp_path / "logs"),
            "store_id": "s1",
            "till_id": "t1",
            "language": "en",
        },
        "loyalty": {"backend": "fabric"},
        "fabric": {
            "base_url": sim.url,
            "authorization_url": sim.authorization_url,
            "client_id": sim.state.client_id,
            "location": FABRIC_STORE,
        },
        "engage": {"probe_interval": 0.2, "cashier_deadline": 1.0},
        "offline": {"retry_min_seconds": 0.05, "retry_max_seconds": 0.2},
        "printer": {"backend": "file", "file_path": str(tmp_path / "printer.bin")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    config = config_from_mapping(raw, source="<test>")
    return start_agent(config, {"POSPLUGIN_FABRIC_CLIENT_SECRET": sim.state.client_secret})
