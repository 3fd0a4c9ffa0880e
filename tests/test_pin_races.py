"""Parallel wrong PINs: counted before they are verified, one verification at a time, capped per lockout."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from posplugin import manager_pin
from posplugin.database import Database
from posplugin.errors import AgentError
from posplugin.manager_pin import MAX_FAILURES, ManagerPin, PinGuard, hash_pin
from posplugin.secret_store import PIN_HASH, FileBackend, SecretStore
from tests.conftest import RunningAgent
from tests.test_settings_api import PIN, login, manager

FAST = {"n": 2**4, "r": 1, "p": 1}


def test_a_concurrent_burst_evaluates_at_most_the_allowed_number(tmp_path: Path, monkeypatch: Any) -> None:
    evaluated: list[str] = []
    real_verify = manager_pin.verify_pin

    def counting_verify(pin: str, stored: str) -> bool:
        evaluated.append(pin)
        return real_verify(pin, stored)

    monkeypatch.setattr(manager_pin, "verify_pin", counting_verify)

    async def main() -> list[Any]:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = SecretStore(tmp_path, {}, backend=FileBackend(tmp_path / "secrets.json"))
        store.set(PIN_HASH, hash_pin(PIN, **FAST))
        pin = ManagerPin(store, PinGuard(db), "en")
        guesses = [f"{n:06d}" for n in range(199)] + [PIN]  # the right PIN as guess #200
        try:
            return await asyncio.gather(*(pin.check(g) for g in guesses), return_exceptions=True)
        finally:
            db.close()

    results = asyncio.run(main())
    assert len(evaluated) <= MAX_FAILURES
    assert results[-1] is not None and isinstance(results[-1], AgentError) and results[-1].code == "pin_locked"
    assert all(isinstance(r, AgentError) for r in results)


def test_an_attempt_is_on_disk_before_it_is_verified(tmp_path: Path, monkeypatch: Any) -> None:
    seen: list[int] = []

    async def main() -> None:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        store = SecretStore(tmp_path, {}, backend=FileBackend(tmp_path / "secrets.json"))
        store.set(PIN_HASH, hash_pin(PIN, **FAST))
        guard = PinGuard(db)

        def verify(pin: str, stored: str) -> bool:
            seen.append(db.run_sync(lambda c: c.execute("SELECT failures FROM pin_guard").fetchone()[0]))
            return False

        monkeypatch.setattr(manager_pin, "verify_pin", verify)
        with pytest.raises(AgentError):
            await ManagerPin(store, guard, "en").check("000111")
        db.close()

    asyncio.run(main())
    assert seen == [1]


def test_login_guesses_do_not_become_redaction_secrets(running: RunningAgent) -> None:
    login(running)  # sets the PIN
    guesses = ["Engage", "posplugin", "Unauthorized"]
    for guess in guesses:
        manager(running).post("/settings/api/login", json={"pin": guess})
    secrets = running.agent.redactor._secrets
    assert not set(guesses) & secrets
    assert PIN in secrets


def test_a_wall_clock_stepped_back_does_not_lock_for_days(tmp_path: Path) -> None:
    now = [1_000_000.0]

    async def main() -> float:
        db = Database(tmp_path / "db.sqlite3")
        db.open()
        guard = PinGuard(db, lambda: now[0])
        try:
            for _ in range(MAX_FAILURES):
                await guard.record_failure()
            now[0] -= 86400  # NTP corrects a clock that ran a day ahead
            return await guard.locked_for()
        finally:
            db.close()

    assert asyncio.run(main()) <= manager_pin.MAX_LOCKOUT_SECONDS
