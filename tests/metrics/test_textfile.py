"""The textfile: written whole or not at all, readable by the exporter, and a failing write never stops anything."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import stat
import threading
from pathlib import Path

import pytest

from posplugin.config import MetricsConfig
from posplugin.metrics import textfile
from posplugin.metrics.textfile import write_atomically
from tests.metrics.fakes import FakeAgent, families, value


def test_the_file_is_readable_by_the_exporter_whatever_the_service_umask(tmp_path: Path) -> None:
    path = tmp_path / "posplugin.prom"
    old = os.umask(0o077)  # the systemd unit's UMask
    try:
        write_atomically(path, b"a 1\n")
    finally:
        os.umask(old)
    assert path.read_bytes() == b"a 1\n"
    if os.name == "posix":
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert os.listdir(tmp_path) == ["posplugin.prom"]  # no temporary file left


def test_a_reader_never_sees_half_a_file(tmp_path: Path) -> None:
    path = tmp_path / "posplugin.prom"
    bodies = [f"# {n}\n".encode() + b"x 1\n" * (2000 + n) for n in range(60)]
    write_atomically(path, bodies[0])
    seen: list[bytes] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(path.read_bytes())

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for body in bodies:
            write_atomically(path, body)
    finally:
        stop.set()
        reader.join()
    assert seen and all(body in bodies for body in seen)


def test_a_failed_replace_keeps_the_previous_file_and_leaves_no_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "posplugin.prom"
    write_atomically(path, b"old 1\n")

    def no_space(src: object, dst: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(textfile.os, "replace", no_space)
    with pytest.raises(OSError):
        write_atomically(path, b"new 1\n")
    assert path.read_bytes() == b"old 1\n" and os.listdir(tmp_path) == ["posplugin.prom"]


def test_the_written_file_is_the_exposition(tmp_path: Path) -> None:
    fake = FakeAgent(counts={"pending": 2, "sending": 0, "parked": 1, "conflict": 0, "oldestPendingAgeSeconds": 9})
    metrics = fake.metrics()
    path = tmp_path / "posplugin.prom"
    assert asyncio.run(metrics.textfile.write(str(path)))
    found = families(path.read_text(encoding="utf-8"))
    assert value(found["posplugin_queue_ops"], state="parked") == 1
    assert value(found["posplugin_queue_oldest_pending_age_seconds"]) == 9
    assert "posplugin_build_info" in found


def test_a_failing_write_is_logged_once_per_distinct_error_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = FakeAgent().metrics()
    missing = tmp_path / "no-such-folder" / "posplugin.prom"
    not_a_folder = tmp_path / "a-file"
    not_a_folder.write_text("")

    async def run() -> list[bool]:
        results = [await metrics.textfile.write(str(missing)) for _ in range(3)]
        results += [await metrics.textfile.write(str(not_a_folder / "posplugin.prom")) for _ in range(2)]
        missing.parent.mkdir()
        results.append(await metrics.textfile.write(str(missing)))
        results.append(await metrics.textfile.write(str(tmp_path / "again" / "posplugin.prom")))
        return results

    with caplog.at_level(logging.INFO, logger="posplugin.metrics"):
        results = asyncio.run(run())
    assert results == [False, False, False, False, False, True, False]
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 4, messages
    assert messages[0].startswith("writing the metrics textfile failed: FileNotFoundError")
    assert messages[1].startswith("writing the metrics textfile failed: NotADirectoryError")
    assert messages[2] == "writing the metrics textfile works again"
    assert messages[3].startswith("writing the metrics textfile failed: FileNotFoundError")  # new after recovery
    assert missing.exists()


def test_the_writer_keeps_going_after_failures(tmp_path: Path) -> None:
    fake = FakeAgent()
    path = tmp_path / "later" / "posplugin.prom"
    fake.config = type(fake.config)(metrics=MetricsConfig(textfile_path=str(path), textfile_interval=0.01))
    metrics = fake.metrics()

    async def run() -> None:
        task = asyncio.create_task(metrics.textfile.run_forever())
        await asyncio.sleep(0.1)  # failing: the folder is not there
        assert not task.done()
        path.parent.mkdir()
        for _ in range(200):
            if path.exists():
                break
            await asyncio.sleep(0.01)
        task.cancel()

    asyncio.run(run())
    assert "posplugin_loyalty_up 1.0" in path.read_text(encoding="utf-8")
