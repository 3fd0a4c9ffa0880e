"""The posplugin command: config check, secrets, doctor, and the demo as a real process."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from posplugin.cli import main
from posplugin.vendors.engage.simulator import EngageSimulator
from tests.conftest import API_KEY, free_port, wait_for


def write_config(tmp_path: Path, sim_url: str, **extra: str) -> Path:
    path = tmp_path / "config.toml"
    lines = [
        "[agent]",
        f'data_dir = "{tmp_path / "data"}"',
        f'log_dir = "{tmp_path / "logs"}"',
        "[engage]",
        f'base_url = "{sim_url}"',
        "[printer]",
        'backend = "file"',
        f'file_path = "{tmp_path / "out.bin"}"',
    ]
    path.write_text("\n".join(lines) + "\n" + "".join(f"{v}\n" for v in extra.values()))
    return path


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POSPLUGIN_SECRET_BACKEND", "file")
    monkeypatch.delenv("POSPLUGIN_ENGAGE_API_KEY", raising=False)
    monkeypatch.delenv("POSPLUGIN_API_TOKEN", raising=False)


def test_config_check_reports_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[engage]\nread_timeout = 'soon'\n")
    assert main(["config", "check", "--config", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and str(bad) in err and "[engage] read_timeout" in err


def test_secrets_set_reads_stdin_never_argv(
    tmp_path: Path,
    sim: EngageSimulator,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, sim.url)
    monkeypatch.setattr("sys.stdin", _FakeStdin(API_KEY + "\n"))
    assert main(["secrets", "--config", str(config), "set", "engage-api-key"]) == 0
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())
    assert stored["engage-api-key"] == API_KEY
    assert main(["secrets", "--config", str(config), "get", "engage-api-key"]) == 2  # write-only
    assert API_KEY not in capsys.readouterr().out
    assert main(["secrets", "--config", str(config), "status"]) == 0
    assert "engage-api-key  set" in capsys.readouterr().out


def test_it_can_preset_the_manager_pin_which_is_stored_hashed(
    tmp_path: Path, sim: EngageSimulator, cli_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from posplugin.manager_pin import verify_pin

    config = write_config(tmp_path, sim.url)
    monkeypatch.setattr("sys.stdin", _FakeStdin("1111\n"))
    assert main(["secrets", "--config", str(config), "set", "pin-hash"]) == 2  # too easy
    monkeypatch.setattr("sys.stdin", _FakeStdin("640917\n"))
    assert main(["secrets", "--config", str(config), "set", "pin-hash"]) == 0
    stored = json.loads((tmp_path / "data" / "secrets.json").read_text())["pin-hash"]
    assert "640917" not in stored and verify_pin("640917", stored) and not verify_pin("640918", stored)


def test_doctor_ok_and_failures(
    tmp_path: Path,
    sim: EngageSimulator,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    config = write_config(tmp_path, sim.url)
    assert main(["doctor", "--config", str(config)]) == 1  # no key, no token yet
    out = capsys.readouterr().out
    assert "FAIL  engage-api-key missing" in out and "fix: posplugin secrets set engage-api-key" in out
    monkeypatch.setenv("POSPLUGIN_ENGAGE_API_KEY", API_KEY)
    monkeypatch.setenv("POSPLUGIN_API_TOKEN", "tok-0123456789")
    assert main(["doctor", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert {c["name"] for c in report["checks"]} >= {"engage", "database", "printer", "scanner"}
    sim.set_offline(True)
    assert main(["doctor", "--config", str(config)]) == 1
    assert "FAIL  engage" in capsys.readouterr().out


def test_doctor_reports_a_rejected_key(
    tmp_path: Path,
    sim: EngageSimulator,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("POSPLUGIN_ENGAGE_API_KEY", "wrong-key")
    assert main(["doctor", "--config", str(write_config(tmp_path, sim.url))]) == 1
    assert "refused the credentials" in capsys.readouterr().out


@pytest.mark.parametrize(("backend", "secret"), [("engage", "engage-api-key"), ("fabric", "fabric-client-secret")])
def test_demo_comes_up_and_answers_health(tmp_path: Path, backend: str, secret: str) -> None:
    port, engage_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posplugin",
            "demo",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            str(port),
            f"--{backend}-port",
            str(engage_port),
            "--backend",
            backend,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    try:
        deadline = time.monotonic() + 20
        health = None
        while time.monotonic() < deadline:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/api/v1/health", timeout=1).json()
                if health["loyalty"] == "online":
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None and health["status"] == "ok" and health["loyalty"] == "online"
        assert health["backend"] == backend
        # The demo keeps its config and key on disk like a till: the doctor checks the running demo.
        doctor = subprocess.run(
            [sys.executable, "-m", "posplugin", "doctor", "--json", "--config", str(tmp_path / "demo" / "config.toml")],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        checks = {c["name"]: c for c in json.loads(doctor.stdout)["checks"]}
        assert checks[secret]["ok"] and checks[backend]["ok"], checks
        assert checks["agent"]["detail"].startswith("0.") and checks["config"]["ok"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}/" in out
    assert "Traceback" not in out
    assert proc.returncode == 130  # the conventional exit for Ctrl-C, after a clean shutdown


def test_demo_refuses_a_busy_port(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["demo", "--data-dir", str(tmp_path), "--port", str(port)]) == 2
    assert "already in use" in capsys.readouterr().err


class _FakeStdin:
    def __init__(self, text: str) -> None:
        self._text = text

    def isatty(self) -> bool:
        return False

    def readline(self) -> str:
        return self._text


def test_print_test_and_doctor_print_test(
    tmp_path: Path,
    sim: EngageSimulator,
    cli_env: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.receipts.escpos_decoder import decode

    config = write_config(tmp_path, sim.url)
    assert main(["print-test", "--config", str(config)]) == 0
    assert "ok    test print" in capsys.readouterr().out
    assert "TEST" in decode((tmp_path / "out.bin").read_bytes()).text()
    monkeypatch.setenv("POSPLUGIN_ENGAGE_API_KEY", API_KEY)
    monkeypatch.setenv("POSPLUGIN_API_TOKEN", "tok-0123456789")
    assert main(["doctor", "--config", str(config), "--print-test"]) == 0
    assert "test print" in capsys.readouterr().out
    bad = tmp_path / "bad.toml"
    bad.write_text(config.read_text().replace('backend = "file"', 'backend = "serial"\nserial_port = "/dev/nope"'))
    assert main(["print-test", "--config", str(bad)]) == 1
    assert "FAIL  test print" in capsys.readouterr().out
    assert main(["doctor", "--config", str(bad)]) == 1
    assert "FAIL  printer" in capsys.readouterr().out


def test_health_exit_codes_for_monitoring(
    tmp_path: Path, agent_factory: Any, sim: EngageSimulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from posplugin.vendors.engage.simulator import FaultRule, member_id, voucher_id

    running = agent_factory(
        offline={"retry_min_seconds": 0.05, "retry_max_seconds": 0.1, "max_attempts": 1},
        engage={"breaker_failures": 50},
    )
    config = tmp_path / "health.toml"
    config.write_text(
        f'[agent]\nport = {running.agent.config.agent.port}\ndata_dir = "{running.agent.paths.data_dir}"\n'
    )
    assert main(["health", "--config", str(config)]) == 0
    assert capsys.readouterr().out.startswith("OK: posplugin")
    sim.faults.add(FaultRule("error", method="POST", path="/redeem$", times=None, status=500))
    with running.client() as http:
        http.post(f"/api/v1/vouchers/{voucher_id('asa', 1)}/redeem", json={"contactId": member_id("asa"), "opId": "h1"})
        wait_for(lambda: http.get("/api/v1/ops/h1").json()["state"] == "parked")
    assert main(["health", "--config", str(config), "--json"]) == 2
    report = json.loads(capsys.readouterr().out)
    assert report["exitCode"] == 2 and "1 parked" in report["problems"][0]
    assert main(["doctor", "--config", str(config), "--json"]) == 1
    checks = {c["name"]: c for c in json.loads(capsys.readouterr().out)["checks"]}
    assert checks["queue"]["ok"] is False and "1 parked" in checks["queue"]["detail"]
    assert checks["agent"]["ok"] is True and "up" in checks["agent"]["detail"]
    running.stop()
    assert main(["health", "--config", str(config)]) == 3
    assert capsys.readouterr().out.startswith("UNKNOWN")
