"""Helpers for benchmarks: real processes for the simulator and the agent, figures, percentiles."""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

API_KEY = "bench-key-0123456789"
TOKEN = "bench-token-0123456789"


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    p99: float | None = None
    target: str = ""
    limit: str = ""
    ok: bool | None = None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def p99(values: Sequence[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer")


@contextmanager
def simulator(
    rate_limit: int = 1_000_000, bulk_vouchers: int = 0, port: int | None = None, control: int | None = None
) -> Iterator[tuple[str, str]]:
    port = port or free_port()
    control = control or free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posplugin",
            "simulator",
            "--port",
            str(port),
            "--control-port",
            str(control),
            "--api-key",
            API_KEY,
            "--bulk-vouchers",
            str(bulk_vouchers),
            "--rate-limit",
            str(rate_limit),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_http(f"http://127.0.0.1:{control}/_sim/state")
        yield f"http://127.0.0.1:{port}", f"http://127.0.0.1:{control}"
    finally:
        proc.terminate()
        proc.wait(10)


@contextmanager
def agent(
    engage_url: str, extra_toml: str = "", data_dir: str | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes], float]]:
    """Start ``posplugin run``; yields (base URL, process, seconds from spawn to health answering)."""
    port = free_port()
    with tempfile.TemporaryDirectory() as scratch:
        tmp = data_dir or scratch
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[agent]\nport = {port}\ndata_dir = "{tmp}/data"\nlog_dir = "{tmp}/logs"\n'
            f'[engage]\nbase_url = "{engage_url}"\n[printer]\nbackend = "file"\nfile_path = "{tmp}/p.bin"\n'
            + extra_toml
        )
        env = {
            **os.environ,
            "POSPLUGIN_ENGAGE_API_KEY": API_KEY,
            "POSPLUGIN_API_TOKEN": TOKEN,
            "POSPLUGIN_SECRET_BACKEND": "file",
        }
        started = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "posplugin", "run", "--config", str(config)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while True:
                try:
                    httpx.get(base + "/api/v1/health", timeout=0.5)
                    break
                except httpx.HTTPError:
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise RuntimeError("agent did not start") from None
                    time.sleep(0.005)
            yield base, proc, time.perf_counter() - started
        finally:
            proc.terminate()
            proc.wait(10)


def set_latency(control_url: str, seconds: float) -> None:
    httpx.post(control_url + "/_sim/faults", json={"latency": seconds}).raise_for_status()


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")
