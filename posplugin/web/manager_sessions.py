"""Manager sessions for the settings page: a random id in an HttpOnly, SameSite=Strict cookie, a CSRF token
per session, a short idle timeout and an absolute one.

Sessions live in memory on purpose: a restart logs the manager out, which is the safe direction.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

COOKIE = "posplugin_manager"
IDLE_SECONDS = 10 * 60
ABSOLUTE_SECONDS = 60 * 60
MAX_SESSIONS = 8


@dataclass
class ManagerSession:
    session_id: str
    csrf: str
    created_at: float
    last_seen: float


class ManagerSessions:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sessions: dict[str, ManagerSession] = {}

    def create(self) -> ManagerSession:
        now = self._clock()
        self._expire(now)
        while len(self._sessions) >= MAX_SESSIONS:  # oldest first: a busy till never grows without bound
            oldest = min(self._sessions.values(), key=lambda s: s.created_at)
            del self._sessions[oldest.session_id]
        session = ManagerSession(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now, now)
        self._sessions[session.session_id] = session
        return session

    def get(self, session_id: str | None) -> ManagerSession | None:
        """The live session for a cookie value (sliding its idle timeout), or None."""
        if not session_id:
            return None
        now = self._clock()
        self._expire(now)
        session = self._sessions.get(session_id)
        if session is not None:
            session.last_seen = now
        return session

    def drop(self, session_id: str | None) -> None:
        if session_id:
            self._sessions.pop(session_id, None)

    @staticmethod
    def csrf_ok(session: ManagerSession, supplied: str | None) -> bool:
        return bool(supplied) and hmac.compare_digest(session.csrf.encode(), (supplied or "").encode())

    def _expire(self, now: float) -> None:
        for sid, s in list(self._sessions.items()):
            if now - s.last_seen > IDLE_SECONDS or now - s.created_at > ABSOLUTE_SECONDS:
                del self._sessions[sid]


def cookie_header(session: ManagerSession | None) -> str:
    if session is None:
        return f"{COOKIE}=; Path=/settings; Max-Age=0; HttpOnly; SameSite=Strict"
    return f"{COOKIE}={session.session_id}; Path=/settings; Max-Age={IDLE_SECONDS}; HttpOnly; SameSite=Strict"
