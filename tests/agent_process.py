"""The agent as its own process (``posplugin run``), for the crash tests: started, SIGKILLed and restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

TOKEN = "crash-token-0123456789"
# Fast retries and no limits that would park ops during a few minutes of chaos.
CRASH_OFFLINE = (
    "[offline]\ncashier_wait = 0.5\nretry_min_seconds = 0.2\nretry_max_seconds = 1.0\n"
    "max_queued_per_till = 10000\nmax_attempts = 10000\nmax_requests_per_second = 40\n"
)


class AgentProcess:
    def __init__(self, tmp: Path, sections: str, secrets: dict[str, str], store_id: str = "") -> None:
        """``sections``: the config's loyalty part (TOML); the agent, offline and printer parts are added here."""
        self.port = free_port()
        self.config = tmp / "config.toml"
        self.config.write_text(
            f'[agent]\nport = {self.port}\ndata_dir = "{tmp}/data"\nlog_dir = "{tmp}/logs"\nlanguage = "en"\n'
            + (f'store_id = "{store_id}"\n' if store_id else "")
            + sections
            + CRASH_OFFLINE
            + f'[printer]\nbackend = "file"\nfile_path = "{tmp}/p.bin"\n'
        )
        self.env = {**os.environ, **secrets, "POSPLUGIN_API_TOKEN": TOKEN, "POSPLUGIN_SECRET_BACKEND": "file"}
        self.proc: subprocess.Popen[bytes] | None = None
        self.kills = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "posplugin", "run", "--config", str(self.config)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def wait_up(self, timeout: float = 20) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/api/v1/health", timeout=1)
                return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError("agent did not come up")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
            self.kills += 1

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
