"""Canary: run the real agent process through the manager's and the cashier's flows with recognisable secrets
and personal data, then search every file it wrote. Secrets must be nowhere but the secret store; personal
data may appear in the log only masked."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from posplugin.vendors.engage.simulator import EngageSimulator, SimState
from posplugin.vendors.engage.simulator.state import Contact, Voucher
from tests.conftest import free_port

CANARY_KEY = "canaryKEY-9f31c7d2e8b4a6"
CANARY_PIN = "730419"
WRONG_PIN = "581726"
CONTACT_ID = "0c0ffee0-cafe-4bad-9eed-c4a4a4a4a4a4"
EMAIL = "kalle.canary@example.org"
PHONE = "+46709998877"
SSN = "198001019876"
CARD = "2400000099996"
VOUCHER_ID = "d00dfeed-0000-4000-8000-00000000c0de"
VOUCHER_NUMBER = "2511999912345"
PERSONAL = (EMAIL, PHONE, SSN, CARD, VOUCHER_NUMBER, CONTACT_ID)
# A shopper enrolled at the till: the identifier goes to Engage only (in no file at all), the name is in no log.
ENROL_EMAIL = "nora.kanariefagel@example.net"
ENROL_PHONE = "+46701119988"
ENROL_NAME = "Kanariefågeln"


@pytest.fixture
def canary_engage() -> Iterator[EngageSimulator]:
    state = SimState()
    state.add_contact(Contact(CONTACT_ID, "Kalle", "Kanarie", "7000001", EMAIL, PHONE, SSN, cards=[CARD]), balance=1500)
    state.vouchers[VOUCHER_ID] = Voucher(
        VOUCHER_ID, CONTACT_ID, VOUCHER_NUMBER, "Bonuscheck 100 kr", 100, "SEK", state.now() + timedelta(days=9), 1000
    )
    simulator = EngageSimulator(state, api_key=CANARY_KEY, control_port=0).start()
    yield simulator
    simulator.stop()


def test_no_secret_in_any_file_and_personal_data_only_masked_in_logs(
    tmp_path: Path, canary_engage: EngageSimulator
) -> None:
    port = free_port()
    config = tmp_path / "etc" / "config.toml"
    config.parent.mkdir()
    data, logs = tmp_path / "data", tmp_path / "logs"
    config.write_text(
        f'[agent]\nport = {port}\ndata_dir = "{data}"\nlog_dir = "{logs}"\nlanguage = "en"\n'
        f'[engage]\nbase_url = "{canary_engage.url}"\nprobe_interval = 0.3\n'
        'lookup_keys = ["customKey", "email", "mobilePhone", "socialSecurityNumber"]\n'
        f'[printer]\nbackend = "file"\nfile_path = "{tmp_path / "printer.bin"}"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("POSPLUGIN_")}
    env["POSPLUGIN_SECRET_BACKEND"] = "file"
    agent = subprocess.Popen(
        [sys.executable, "-m", "posplugin", "run", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    tokens: list[str] = []
    try:
        _wait_for_health(base)
        token = subprocess.run(
            [sys.executable, "-m", "posplugin", "secrets", "--config", str(config), "get", "api-token"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        ).stdout.strip()
        tokens.append(token)
        with httpx.Client(base_url=base, timeout=30) as manager:
            csrf = manager.post("/settings/api/pin/setup", json={"pin": CANARY_PIN}).json()["csrf"]
            assert manager.post("/settings/api/login", json={"pin": WRONG_PIN}).status_code == 401
            csrf = manager.post("/settings/api/login", json={"pin": CANARY_PIN}).json()["csrf"]
            headers = {"X-CSRF-Token": csrf}
            key_set = manager.post("/settings/api/api-key", json={"apiKey": CANARY_KEY}, headers=headers)
            assert key_set.status_code == 200
            assert manager.post("/settings/api/test-connection", json={}, headers=headers).json()["keyValid"] is True
            saved = manager.post(
                "/settings/api/sections/agent", json={"values": {"store_id": "canary-store"}}, headers=headers
            )
            assert saved.status_code == 200
            tokens.append(manager.post("/settings/api/token/rotate", json={}, headers=headers).json()["token"])
            manager.post("/settings/api/scan/normalise", json={"code": CARD}, headers=headers)
            assert "lines" in manager.get("/settings/api/logs").json()

        with httpx.Client(base_url=base, timeout=30, headers={"X-POS-Token": tokens[-1]}) as till:
            for code in (CARD, EMAIL, PHONE, SSN):
                answer = till.post("/api/v1/identify", json={"code": code})
                assert answer.status_code == 200, answer.text
                assert answer.json()["contact"]["id"] == CONTACT_ID
            assert till.post("/api/v1/identify", json={"code": "nobody.here@example.org"}).status_code == 404
            assert till.get(f"/api/v1/members/{CONTACT_ID}/point-transactions").status_code == 200
            op = till.post(f"/api/v1/vouchers/{VOUCHER_ID}/redeem", json={"contactId": CONTACT_ID}).json()
            assert op["state"] == "redeemed"
            printed = till.post("/api/v1/print/voucher", json={"contactId": CONTACT_ID, "voucherId": VOUCHER_ID})
            assert printed.status_code == 200
            assert till.post("/api/v1/identify", json={"code": "x" * 5000}).status_code == 422
            enrolled = till.post(
                "/api/v1/members",
                json={"email": ENROL_EMAIL, "firstName": ENROL_NAME, "consents": {"acceptsEmail": True}},
            )
            assert enrolled.status_code == 200, enrolled.text
            assert enrolled.json()["enrolment"]["result"] == "created"
            by_phone = till.post(
                "/api/v1/members", json={"mobilePhone": ENROL_PHONE, "firstName": ENROL_NAME, "consents": {}}
            )
            assert by_phone.status_code == 422  # the SMS question unanswered: refused, nothing sent
            by_phone = till.post(
                "/api/v1/members",
                json={"mobilePhone": ENROL_PHONE, "firstName": ENROL_NAME, "consents": {"acceptsSms": False}},
            )
            assert by_phone.status_code == 200, by_phone.text
            existing = till.post("/api/v1/members", json={"email": EMAIL, "consents": {"acceptsEmail": False}})
            assert existing.json()["enrolment"]["result"] == "existing"
    finally:
        agent.send_signal(signal.SIGTERM)
        output, _ = agent.communicate(timeout=20)

    secrets = (CANARY_KEY, CANARY_PIN, WRONG_PIN, *tokens)
    secret_file = data / "secrets.json"
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    assert CANARY_PIN not in secret_file.read_text()  # only its slow hash is kept

    written = [p for p in [*data.rglob("*"), *logs.rglob("*"), *config.parent.rglob("*")] if p.is_file()]
    assert any(p.suffix == ".sqlite3" for p in written) and any(p.name == "config.toml.bak" for p in written)
    for path in written:
        if path == secret_file:
            continue
        content = path.read_bytes()
        for secret in secrets:
            assert secret.encode() not in content, f"a secret is in {path}"
        for typed in (ENROL_EMAIL, ENROL_PHONE):
            assert typed.encode() not in content, f"an enrolled shopper's identifier is in {path}"

    log_text = "\n".join(p.read_text(errors="replace") for p in logs.rglob("*.log*")) + output
    for secret in secrets:
        assert secret not in log_text
    for value in (*PERSONAL, ENROL_EMAIL, ENROL_PHONE, ENROL_NAME):
        assert value not in log_text, f"{value} is in the log unmasked"
    assert "enrol by email: member" in log_text and "enrol by mobilePhone: member" in log_text
    # The flows did log: the scans are in the audit lines, masked to their last characters.
    assert "identify card …9996: member 0c0ffee0-…" in log_text
    assert "identify card ….org: member_not_found" in log_text
    assert "settings: [agent] store_id changed" in log_text
    assert "the local API token was rotated" in log_text


def _wait_for_health(base: str) -> None:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/api/v1/health", timeout=1).json()["status"] == "ok":
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("agent did not come up")
