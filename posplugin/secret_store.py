"""Secrets: the Engage API key, the local API token and the manager PIN hash.

Lookup order: environment variable (CI, containers, systemd ``Environment=``), then the persistent backend:
the OS keyring where a real one exists, otherwise a 0600 JSON file in the data folder. On a Linux service the
file is the expected backend (no desktop keyring runs there); the file belongs to the service user and the data
folder is 0700. Values never reach logs or reprs.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

SERVICE = "posplugin"
ENGAGE_API_KEY = "engage-api-key"
API_TOKEN = "api-token"  # noqa: S105 - the name of a secret, not one
PIN_HASH = "pin-hash"
FABRIC_CLIENT_SECRET = "fabric-client-secret"  # noqa: S105 - the name of a secret, not one
SECRET_NAMES = (ENGAGE_API_KEY, FABRIC_CLIENT_SECRET, API_TOKEN, PIN_HASH)
ENV_VARS = {
    ENGAGE_API_KEY: "POSPLUGIN_ENGAGE_API_KEY",
    FABRIC_CLIENT_SECRET: "POSPLUGIN_FABRIC_CLIENT_SECRET",
    API_TOKEN: "POSPLUGIN_API_TOKEN",
}
BACKEND_ENV = "POSPLUGIN_SECRET_BACKEND"


class SecretStoreError(RuntimeError):
    pass


class SecretBackend(Protocol):
    name: str

    def get(self, key: str) -> str | None: ...
    def set(self, key: str, value: str) -> None: ...
    def delete(self, key: str) -> bool: ...


class FileBackend:
    """A JSON object in a file readable only by its owner; writes are atomic."""

    name = "file"

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, str]:
        try:
            raw = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except UnicodeDecodeError:
            raise SecretStoreError(
                f"{self.path}: secrets file is corrupt (not text); restore it or set the secrets again"
            ) from None
        except OSError as exc:
            raise SecretStoreError(f"{self.path}: cannot read the secrets file ({exc.strerror})") from None
        try:
            data = json.loads(raw)
        except json.JSONDecodeError:
            raise SecretStoreError(
                f"{self.path}: secrets file is corrupt; restore it or set the secrets again"
            ) from None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise SecretStoreError(f"{self.path}: secrets file has an unexpected shape")
        return data

    def _write(self, data: dict[str, str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".secrets-", suffix=".tmp")
        try:  # mkstemp creates the file 0600, so the secret is never readable by others, not even briefly
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(data, handle)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
            raise

    def get(self, key: str) -> str | None:
        return self._read().get(key)

    def set(self, key: str, value: str) -> None:
        data = self._read()
        data[key] = value
        self._write(data)

    def delete(self, key: str) -> bool:
        data = self._read()
        if key not in data:
            return False
        del data[key]
        self._write(data)
        return True


class KeyringBackend:
    name = "keyring"

    def __init__(self) -> None:
        import keyring  # imported lazily: probing backends can be slow and touches D-Bus

        self._keyring = keyring

    def get(self, key: str) -> str | None:
        value = self._keyring.get_password(SERVICE, key)
        return value if isinstance(value, str) else None

    def set(self, key: str, value: str) -> None:
        self._keyring.set_password(SERVICE, key, value)

    def delete(self, key: str) -> bool:
        import keyring.errors

        try:
            self._keyring.delete_password(SERVICE, key)
        except keyring.errors.PasswordDeleteError:
            return False
        return True


def real_keyring_available() -> bool:
    """True when keyring would store secrets somewhere real (not the `fail` backend, not a chainer of nothing)."""
    try:
        import keyring
        from keyring.backends import chainer, fail
    except ImportError:  # pragma: no cover - keyring is a hard dependency
        return False
    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring):
        return False
    if isinstance(backend, chainer.ChainerBackend):
        return bool(backend.backends)
    return True


@dataclass(frozen=True)
class SecretSource:
    name: str
    present: bool
    backend: str  # "env", "keyring", "file", or "" when missing


class SecretStore:
    """Env vars first, then one persistent backend chosen once at construction."""

    def __init__(self, data_dir: Path, environ: Mapping[str, str], backend: SecretBackend | None = None) -> None:
        self._environ = environ
        self.backend: SecretBackend = backend or _choose_backend(data_dir, environ)

    def get(self, key: str) -> str | None:
        _known(key)
        env_name = ENV_VARS.get(key)
        if env_name and self._environ.get(env_name):
            return self._environ[env_name]
        return self.backend.get(key)

    def set(self, key: str, value: str) -> None:
        _known(key)
        if not value or value != value.strip() or "\n" in value:
            raise SecretStoreError(f"{key}: value must be non-empty with no surrounding white space")
        self.backend.set(key, value)

    def delete(self, key: str) -> bool:
        _known(key)
        return self.backend.delete(key)

    def source(self, key: str) -> SecretSource:
        env_name = ENV_VARS.get(key)
        if env_name and self._environ.get(env_name):
            return SecretSource(key, True, "env")
        present = self.backend.get(key) is not None
        return SecretSource(key, present, self.backend.name if present else "")

    def __repr__(self) -> str:
        return f"SecretStore(backend={self.backend.name})"


def _known(key: str) -> None:
    if key not in SECRET_NAMES:
        raise SecretStoreError(f"unknown secret {key!r}; known: {', '.join(SECRET_NAMES)}")


def _choose_backend(data_dir: Path, environ: Mapping[str, str]) -> SecretBackend:
    wanted = environ.get(BACKEND_ENV, "auto")
    if wanted not in ("auto", "file", "keyring"):
        raise SecretStoreError(f"{BACKEND_ENV}={wanted!r}: use auto, file or keyring")
    secrets_file = data_dir / "secrets.json"
    # A secrets file already in the data folder is where this agent keeps its secrets (a service install, the
    # demo): every reader of that folder — agent, doctor, CLI — must find them there, keyring or not.
    if wanted == "keyring" or (wanted == "auto" and not secrets_file.exists() and real_keyring_available()):
        return KeyringBackend()
    return FileBackend(secrets_file)


def mask_secret(value: str | None) -> str:
    """What a settings page may show of a secret: its last four characters."""
    if not value:
        return ""
    return "…" + value[-4:] if len(value) > 8 else "…"


IMPORTABLE = (ENGAGE_API_KEY, FABRIC_CLIENT_SECRET, API_TOKEN)
IMPORT_FOLDER = "secrets-import"


def import_pending(store: SecretStore, folder: Path) -> list[str]:
    """Move secrets an installer left in ``folder`` (one file per secret, named after it) into ``store``.

    This is how a secret reaches a store that only the service account can write, such as Windows Credential
    Manager for a virtual service account: the installer cannot act as that account, the running service can.
    Each file is deleted once stored; an empty or unreadable file is left in place and reported.
    """
    imported: list[str] = []
    if not folder.is_dir():
        return imported
    for name in IMPORTABLE:
        path = folder / name
        if not path.is_file():
            continue
        value = path.read_text(encoding="utf-8-sig").strip()
        if not value:
            raise SecretStoreError(f"{path}: empty; put the {name} in it or remove the file")
        store.set(name, value)
        path.unlink()
        imported.append(name)
    return imported
