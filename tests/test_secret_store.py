from __future__ import annotations

import os
import stat
from pathlib import Path

import keyring
import pytest
from keyring.backends import fail

from posplugin.secret_store import (
    API_TOKEN,
    ENGAGE_API_KEY,
    FileBackend,
    SecretStore,
    SecretStoreError,
    mask_secret,
    real_keyring_available,
)


def store(tmp_path: Path, env: dict[str, str] | None = None) -> SecretStore:
    return SecretStore(tmp_path, env or {}, backend=FileBackend(tmp_path / "secrets.json"))


def test_file_backend_round_trip_with_0600(tmp_path: Path) -> None:
    s = store(tmp_path)
    assert s.get(ENGAGE_API_KEY) is None
    s.set(ENGAGE_API_KEY, "k-123456789")
    assert s.get(ENGAGE_API_KEY) == "k-123456789"
    mode = stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode)
    assert mode == 0o600
    assert s.delete(ENGAGE_API_KEY) is True
    assert s.delete(ENGAGE_API_KEY) is False
    assert s.get(ENGAGE_API_KEY) is None


def test_env_var_overrides_the_store(tmp_path: Path) -> None:
    s = store(tmp_path, {"POSPLUGIN_ENGAGE_API_KEY": "from-env", "POSPLUGIN_API_TOKEN": "tok-env"})
    s.set(ENGAGE_API_KEY, "from-file")
    assert s.get(ENGAGE_API_KEY) == "from-env"
    assert s.get(API_TOKEN) == "tok-env"
    assert s.source(ENGAGE_API_KEY).backend == "env"


def test_unknown_names_and_bad_values_are_refused(tmp_path: Path) -> None:
    s = store(tmp_path)
    with pytest.raises(SecretStoreError):
        s.get("password")
    for bad in ("", " padded ", "two\nlines"):
        with pytest.raises(SecretStoreError):
            s.set(API_TOKEN, bad)


def test_corrupt_file_is_a_clear_error_not_a_crash(tmp_path: Path) -> None:
    (tmp_path / "secrets.json").write_text("{not json")
    with pytest.raises(SecretStoreError, match="corrupt"):
        store(tmp_path).get(API_TOKEN)


def test_repr_never_shows_values(tmp_path: Path) -> None:
    s = store(tmp_path)
    s.set(API_TOKEN, "supersecretvalue")
    assert "supersecret" not in repr(s)


def test_fail_keyring_is_not_taken_for_a_real_one() -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert real_keyring_available() is False
    finally:
        keyring.set_keyring(previous)


def test_auto_backend_falls_back_to_file_without_a_keyring(tmp_path: Path) -> None:
    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    try:
        assert SecretStore(tmp_path, {}).backend.name == "file"
        with pytest.raises(SecretStoreError):
            SecretStore(tmp_path, {"POSPLUGIN_SECRET_BACKEND": "vault"})
    finally:
        keyring.set_keyring(previous)


def test_mask_shows_only_last_four() -> None:
    assert mask_secret("abcdefghijkl") == "…ijkl"
    assert mask_secret("short") == "…"
    assert mask_secret(None) == ""
