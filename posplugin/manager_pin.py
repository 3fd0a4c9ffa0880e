"""The store manager's PIN: a slow hash in the secret store and an attempt limit that survives restarts.

The hash is scrypt (memory-hard, in the standard library) with a per-PIN salt, stored as one self-describing
string so the cost can be raised later without breaking existing PINs. Wrong attempts are counted in the
database: after ``MAX_FAILURES`` in a row the PIN is locked, each further lockout twice as long as the last
(capped), and restarting the agent does not reset any of it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from .database import Database, transaction
from .errors import AgentError
from .secret_store import PIN_HASH, SecretStore
from .texts import PIN_ATTEMPTS_LEFT, message

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_DIGITS, MAX_DIGITS = 4, 12
MAX_FAILURES = 5
FIRST_LOCKOUT_SECONDS = 300.0
MAX_LOCKOUT_SECONDS = 3600.0


def hash_pin(pin: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def verify_pin(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, expected = stored.split("$")
        if scheme != "scrypt":
            return False
        digest = hashlib.scrypt(
            pin.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p), dklen=len(_unb64(expected))
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(digest, _unb64(expected))


PIN_PROBLEMS = {
    "length": {
        "en": f"the PIN must be {MIN_DIGITS}-{MAX_DIGITS} digits",
        "sv": f"PIN-koden ska vara {MIN_DIGITS}-{MAX_DIGITS} siffror",
    },
    "guessable": {
        "en": "the PIN is too easy to guess (all the same digit or a run)",
        "sv": "PIN-koden är för lätt att gissa (samma siffra eller en följd)",
    },
}


def pin_problem(pin: str, language: str = "en") -> str | None:
    """Why a new PIN is not acceptable (in ``language``), or None."""
    problem = None
    if not pin.isascii() or not pin.isdigit() or not MIN_DIGITS <= len(pin) <= MAX_DIGITS:
        problem = "length"
    elif len(set(pin)) == 1 or pin in "0123456789012" or pin in "9876543210987":
        problem = "guessable"
    return PIN_PROBLEMS[problem].get(language, PIN_PROBLEMS[problem]["en"]) if problem else None


@dataclass(frozen=True)
class GuardState:
    failures: int
    locked_until: float
    lockouts: int


class PinGuard:
    """Counts wrong PINs in the database (table ``pin_guard``, one row)."""

    def __init__(self, db: Database, clock: Callable[[], float] = time.time) -> None:
        self._db = db
        self._clock = clock

    async def state(self) -> GuardState:
        def read(c: sqlite3.Connection) -> GuardState:
            row = c.execute("SELECT failures, locked_until, lockouts FROM pin_guard WHERE id = 1").fetchone()
            return GuardState(*row) if row else GuardState(0, 0.0, 0)

        return await self._db.run(read)

    async def locked_for(self) -> float:
        """Seconds until a PIN may be tried again (0 when not locked)."""
        return self.remaining(await self.state())

    def remaining(self, state: GuardState) -> float:
        # Never longer than the longest lockout: a wall clock stepped back (NTP at boot) must not lock for days.
        return max(0.0, min(MAX_LOCKOUT_SECONDS, state.locked_until - self._clock()))

    async def record_failure(self) -> GuardState:
        now = self._clock()

        def body(c: sqlite3.Connection) -> GuardState:
            row = c.execute("SELECT failures, locked_until, lockouts FROM pin_guard WHERE id = 1").fetchone()
            failures, locked_until, lockouts = row if row else (0, 0.0, 0)
            failures += 1
            if failures >= MAX_FAILURES:
                locked_until = now + min(MAX_LOCKOUT_SECONDS, FIRST_LOCKOUT_SECONDS * 2**lockouts)
                lockouts += 1
                failures = 0
            c.execute(
                "INSERT INTO pin_guard(id, failures, locked_until, lockouts) VALUES (1, ?, ?, ?) "
                "ON CONFLICT(id) DO UPDATE SET failures=excluded.failures, locked_until=excluded.locked_until, "
                "lockouts=excluded.lockouts",
                (failures, locked_until, lockouts),
            )
            return GuardState(failures, locked_until, lockouts)

        return await self._db.run(lambda c: transaction(c, body))

    async def reset(self) -> None:
        await self._db.run(lambda c: transaction(c, lambda c2: c2.execute("DELETE FROM pin_guard")))


class ManagerPin:
    """Set, check and change the PIN. Hashing runs in a thread: scrypt takes tens of milliseconds on purpose."""

    def __init__(self, secret_store: SecretStore, guard: PinGuard, language: str) -> None:
        self._secrets = secret_store
        self.guard = guard
        self.language = language
        self._verifying = asyncio.Lock()

    @property
    def is_set(self) -> bool:
        return bool(self._secrets.get(PIN_HASH))

    async def set_first(self, pin: str) -> None:
        if self.is_set:
            raise AgentError(409, "pin_already_set", message("pin_already_set", self.language))
        await self._store(pin)

    async def check(self, pin: str) -> None:
        """Raise unless ``pin`` is right and no lockout is running.

        One verification at a time, and each attempt is counted (durably) *before* it is verified, then
        forgiven if it was right: a burst of parallel guesses gets at most ``MAX_FAILURES`` evaluations before
        the lockout, and killing the agent mid-verification never saves a guess from being counted."""
        stored = self._secrets.get(PIN_HASH)
        if not stored:
            raise AgentError(409, "pin_not_set", message("pin_not_set", self.language))
        async with self._verifying:
            wait = await self.guard.locked_for()
            if wait > 0:
                raise self._locked(wait)
            state = await self.guard.record_failure()
            ok = await asyncio.get_running_loop().run_in_executor(None, verify_pin, pin, stored)
            if ok:
                await self.guard.reset()
                return
        wait = self.guard.remaining(state)
        if wait > 0:
            raise self._locked(wait)
        left = MAX_FAILURES - state.failures
        raise AgentError(
            401, "wrong_pin", f"{message('wrong_pin', self.language)} ({attempts_left(left, self.language)})"
        )

    async def change(self, old: str, new: str) -> None:
        await self.check(old)
        await self._store(new)

    async def _store(self, pin: str) -> None:
        problem = pin_problem(pin, self.language)
        if problem:
            raise AgentError(422, "invalid_pin", f"{message('invalid_pin', self.language)} ({problem})")
        hashed = await asyncio.get_running_loop().run_in_executor(None, hash_pin, pin)
        self._secrets.set(PIN_HASH, hashed)
        await self.guard.reset()

    def _locked(self, wait: float) -> AgentError:
        minutes = max(1, round(wait / 60))
        return AgentError(429, "pin_locked", f"{message('pin_locked', self.language)} ({minutes} min)")


def attempts_left(left: int, language: str) -> str:
    return (PIN_ATTEMPTS_LEFT.get(language) or PIN_ATTEMPTS_LEFT["en"]).format(left=left)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
