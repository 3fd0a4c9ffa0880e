"""Cutting a scanner's byte stream into scans.

Terminator framing (CR, LF, CRLF) splits on the terminator; gap framing ends a scan when the line goes quiet
for a while. Either way a frame is bounded: an endless stream without terminators (noise, a wrong baud rate)
is cut at ``max_length`` and reported as overlong instead of growing without limit.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Framer:
    framing: str = "CR"
    max_length: int = 256
    _buffer: bytearray = field(default_factory=bytearray)
    _discarding: bool = False
    overlong: int = 0

    def feed(self, data: bytes) -> list[bytes]:
        """Add bytes; return the complete frames they finish (empty frames are dropped)."""
        if self.framing == "gap":
            self._append(data)
            return []
        frames: list[bytes] = []
        # Accept any of CR, LF, CRLF as an end: scanners are often configured differently from the till.
        for byte in data:
            if byte in (0x0D, 0x0A):
                frame = bytes(self._buffer)
                self._buffer.clear()
                if self._discarding:
                    self._discarding = False
                elif frame:
                    frames.append(frame)
                continue
            self._append(bytes((byte,)))
        return frames

    def _append(self, data: bytes) -> None:
        if self._discarding:
            return
        self._buffer.extend(data)
        if len(self._buffer) > self.max_length:
            self._buffer.clear()
            self._discarding = self.framing != "gap"
            self.overlong += 1

    def flush(self) -> bytes | None:
        """Gap framing: the line went quiet, so what is buffered is one scan."""
        frame = bytes(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return frame or None
