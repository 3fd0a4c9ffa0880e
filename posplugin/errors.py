"""Errors the local API returns: a status, a snake_case code and a message a cashier can read."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    def __init__(self, status: int, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details  # machine-readable extras for integrators (e.g. which sale rule failed)

    def to_json(self) -> dict[str, dict[str, Any]]:
        body: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return {"error": body}
