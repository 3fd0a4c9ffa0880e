"""A till laid out as IT rolls it out: a main config file, drop-ins in conf.d beside it, and the real agent
started from them the way ``posplugin run`` does (layers loaded from disk, served by uvicorn in a thread)."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from posplugin.agent import Agent
from posplugin.config_file import toml_value
from posplugin.config_layers import DROPIN_FOLDER, load_layers
from posplugin.paths import resolve_paths
from posplugin.secret_store import FileBackend, SecretStore
from posplugin.web.serve import build_server
from tests.conftest import API_KEY, RunningAgent

# What the chain's configuration management owns on every till in these tests.
CHAIN_DROPIN = "10-chain.toml"
CHAIN = {
    "offline": {"max_offline_hours": 12.0, "max_attempts": 12},
    "agent": {"store_id": "chain-store-7"},
}


def toml_text(raw: dict[str, dict[str, Any]]) -> str:
    return "".join(
        f"[{section}]\n" + "".join(f"{key} = {toml_value(value)}\n" for key, value in values.items())
        for section, values in raw.items()
    )


def main_file(tmp_path: Path, sim_url: str, port: int, **sections: dict[str, Any]) -> Path:
    """The till's own config.toml (what the settings page writes) in ``tmp_path/etc``."""
    raw: dict[str, dict[str, Any]] = {
        "agent": {
            "port": port,
            "data_dir": str(tmp_path / "data"),
            "log_dir": str(tmp_path / "logs"),
            "till_id": "t1",
            "language": "en",
        },
        "engage": {"base_url": sim_url, "probe_interval": 0.2, "cashier_deadline": 1.0, "read_timeout": 5.0},
        "printer": {"backend": "file", "file_path": str(tmp_path / "printer.bin")},
    }
    for name, values in sections.items():
        raw.setdefault(name, {}).update(values)
    path = tmp_path / "etc" / "config.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(toml_text(raw), encoding="utf-8")
    return path


def dropin(main: Path, name: str, raw: dict[str, dict[str, Any]]) -> Path:
    folder = main.parent / DROPIN_FOLDER
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(toml_text(raw), encoding="utf-8")
    return path


def start_layered(main: Path) -> RunningAgent:
    """The agent as ``posplugin run --config main`` builds it, minus logging set-up."""
    layers = load_layers(main)
    config = layers.effective
    paths = resolve_paths(config)
    paths.ensure()
    store = SecretStore(paths.data_dir, {"POSPLUGIN_ENGAGE_API_KEY": API_KEY}, backend=FileBackend(paths.secrets_file))
    agent = Agent(config, paths, store, config_path=main, layers=layers)
    server = build_server(agent)
    thread = threading.Thread(target=server.run, daemon=True, name="layered-agent-under-test")
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("agent did not start")
        time.sleep(0.02)
    return RunningAgent(agent, f"http://127.0.0.1:{config.agent.port}", server, thread)
