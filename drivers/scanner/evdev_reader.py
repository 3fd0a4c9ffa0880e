"""Linux HID scanners read through evdev with an exclusive grab, so scans do not also type into the desktop.

Optional: needs the ``evdev`` extra and read access to ``/dev/input/event*`` (the udev rule in
``drivers/assets`` grants it to the ``posplugin`` group).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

# US keyboard layout key codes → characters, (unshifted, shifted). Scanners are set to US layout by default.
_KEYS: dict[str, tuple[str, str]] = {
    **{f"KEY_{d}": (d, ")!@#$%^&*("[int(d)]) for d in "0123456789"},
    **{f"KEY_{c}": (c.lower(), c) for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"},
    "KEY_MINUS": ("-", "_"),
    "KEY_EQUAL": ("=", "+"),
    "KEY_SLASH": ("/", "?"),
    "KEY_DOT": (".", ">"),
    "KEY_COMMA": (",", "<"),
    "KEY_SEMICOLON": (";", ":"),
    "KEY_SPACE": (" ", " "),
    "KEY_LEFTBRACE": ("[", "{"),
    "KEY_RIGHTBRACE": ("]", "}"),
    "KEY_APOSTROPHE": ("'", '"'),
}
_SHIFT = {"KEY_LEFTSHIFT", "KEY_RIGHTSHIFT"}
_ENTER = {"KEY_ENTER", "KEY_KPENTER"}


def keys_to_frames(events: list[tuple[str, int]], max_length: int = 256) -> list[bytes]:
    """Turn (key name, value) events into frames: value 1 is key down, 0 key up. Testable without hardware."""
    frames: list[bytes] = []
    shift = False
    buffer: list[str] = []
    for name, value in events:
        if name in _SHIFT:
            shift = value != 0
        elif value == 1 and name in _ENTER:
            if buffer:
                frames.append("".join(buffer).encode())
            buffer.clear()
        elif value == 1 and name in _KEYS and len(buffer) < max_length:
            buffer.append(_KEYS[name][1 if shift else 0])
    return frames


class EvdevScanner:
    def __init__(self, device: str, on_frame: Callable[[bytes], None], max_length: int = 256) -> None:
        self.device_path = device
        self.on_frame = on_frame
        self.max_length = max_length
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._device: Any = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="scanner-evdev", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._device is not None:
            try:
                self._device.ungrab()
                self._device.close()
            except OSError:
                pass

    def _run(self) -> None:
        try:
            import evdev
        except ImportError:
            log.error("scanner backend evdev needs the evdev package: pip install 'posplugin[evdev]'")
            return
        while not self._stop.is_set():
            try:
                self._device = evdev.InputDevice(self.device_path)
                self._device.grab()
                pending: list[tuple[str, int]] = []
                for event in self._device.read_loop():
                    if self._stop.is_set():
                        return
                    if event.type != evdev.ecodes.EV_KEY:
                        continue
                    name = evdev.ecodes.KEY.get(event.code)
                    pending.append((name if isinstance(name, str) else str(name), event.value))
                    if name in _ENTER and event.value == 1:
                        for frame in keys_to_frames(pending, self.max_length):
                            self.on_frame(frame)
                        pending.clear()
            except OSError as exc:
                log.warning("evdev scanner %s unavailable: %s", self.device_path, exc)
                self._stop.wait(2.0)
