"""Scanner drivers: framing, a serial scanner on pyserial's loop://, evdev key decoding."""

from __future__ import annotations

import threading

import serial
from hypothesis import given
from hypothesis import strategies as st

from drivers.scanner import Framer, SerialScanner, keys_to_frames
from tests.conftest import wait_for


def test_terminators_split_frames_and_empty_frames_drop() -> None:
    framer = Framer("CR", 64)
    assert framer.feed(b"123") == []
    assert framer.feed(b"45\r\n678\n\r\r") == [b"12345", b"678"]


def test_partial_frames_join_across_reads() -> None:
    framer = Framer("CRLF", 64)
    frames = [f for chunk in (b"24000", b"000100", b"14\r", b"\n") for f in framer.feed(chunk)]
    assert frames == [b"2400000010014"]


def test_overlong_input_is_dropped_until_the_next_terminator() -> None:
    framer = Framer("CR", 8)
    assert framer.feed(b"0123456789ABCDEF\r1000001\r") == [b"1000001"]
    assert framer.overlong == 1


def test_gap_framing_flushes_on_silence_and_bounds_length() -> None:
    framer = Framer("gap", 8)
    assert framer.feed(b"1234") == [] and framer.flush() == b"1234"
    assert framer.flush() is None
    framer.feed(b"x" * 20)
    assert framer.overlong == 1


@given(chunks=st.lists(st.binary(max_size=50), max_size=30), max_length=st.integers(8, 64))
def test_any_byte_stream_gives_bounded_frames(chunks: list[bytes], max_length: int) -> None:
    framer = Framer("CR", max_length)
    for chunk in chunks:
        for frame in framer.feed(chunk):
            assert 0 < len(frame) <= max_length
            assert b"\r" not in frame and b"\n" not in frame


def test_serial_scanner_on_loop_url_delivers_frames() -> None:
    frames: list[bytes] = []
    got = threading.Event()

    def on_frame(frame: bytes) -> None:
        frames.append(frame)
        if len(frames) == 2:
            got.set()

    scanner = SerialScanner("loop://", on_frame, framing="CR", gap_ms=20)
    scanner.start()
    try:
        assert scanner.wait_open(5)
        assert scanner.serial is not None
        scanner.serial.write(b"\xff\xfe noise\r24000")
        scanner.serial.write(b"00010014\r")
        assert got.wait(5)
        assert frames == [b"\xff\xfe noise", b"2400000010014"]
    finally:
        scanner.stop()


def test_serial_scanner_gap_framing() -> None:
    frames: list[bytes] = []
    scanner = SerialScanner("loop://", frames.append, framing="gap", gap_ms=30)
    scanner.start()
    try:
        assert scanner.wait_open(5)
        assert scanner.serial is not None
        scanner.serial.write(b"1000003")
        wait_for(lambda: frames == [b"1000003"], timeout=5)
    finally:
        scanner.stop()


def test_a_port_that_cannot_open_is_retried_not_fatal() -> None:
    scanner = SerialScanner("/dev/posplugin-no-such-port", lambda f: None)
    scanner.start()
    try:
        wait_for(lambda: scanner.errors >= 1, timeout=5)
        assert scanner._thread is not None and scanner._thread.is_alive()
    finally:
        scanner.stop()


def test_consumer_exceptions_do_not_kill_the_reader() -> None:
    calls: list[bytes] = []

    def explode(frame: bytes) -> None:
        calls.append(frame)
        raise RuntimeError("bug")

    scanner = SerialScanner("loop://", explode)
    scanner.start()
    try:
        assert scanner.wait_open(5)
        assert isinstance(scanner.serial, serial.SerialBase)
        scanner.serial.write(b"1\r2\r")
        wait_for(lambda: calls == [b"1", b"2"], timeout=5)
    finally:
        scanner.stop()


def test_evdev_key_events_to_frames_with_shift() -> None:
    events = [
        ("KEY_1", 1),
        ("KEY_1", 0),
        ("KEY_0", 1),
        ("KEY_LEFTSHIFT", 1),
        ("KEY_A", 1),
        ("KEY_LEFTSHIFT", 0),
        ("KEY_B", 1),
        ("KEY_ENTER", 1),
        ("KEY_ENTER", 1),
        ("KEY_2", 1),
        ("KEY_KPENTER", 1),
    ]
    assert keys_to_frames(events) == [b"10Ab", b"2"]
