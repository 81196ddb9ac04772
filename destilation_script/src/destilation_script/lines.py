"""Splitting a child's byte streams into lines, with a cap on how much one line may hold.

The buffers live here, outside any read call, so a read cancelled by a timeout loses nothing.
"""

from __future__ import annotations


class LineTooLong(Exception):
    """stdout held more than the cap without a newline: the child is broken."""


class StdoutLines:
    """Whole lines of stdout; a line longer than `cap` bytes raises LineTooLong."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        buffer = self._buffer
        scanned = len(buffer)  # the buffer holds no newline: search only what is new
        buffer += data
        lines: list[bytes] = []
        start = 0
        while (end := buffer.find(b"\n", scanned)) >= 0:
            if end - start > self._cap:
                raise LineTooLong
            lines.append(bytes(buffer[start:end]).rstrip(b"\r"))
            start = scanned = end + 1
        del buffer[:start]
        if len(buffer) > self._cap:
            raise LineTooLong
        return lines


class StderrLines:
    """Lines of stderr cut to `cap` bytes each: `(line, truncated)`; what is past the cap is skipped."""

    def __init__(self, cap: int) -> None:
        self._cap = cap
        self._buffer = bytearray()
        self._skipping = False

    def feed(self, data: bytes) -> list[tuple[bytes, bool]]:
        lines: list[tuple[bytes, bool]] = []
        start = 0
        while (end := data.find(b"\n", start)) >= 0:
            if self._skipping:
                self._skipping = False
            else:
                self._buffer += data[start:end]
                lines.append(self._take())
            start = end + 1
        if not self._skipping:
            self._buffer += data[start:]
            if len(self._buffer) > self._cap:
                lines.append(self._take())
                self._skipping = True
        return lines

    def flush(self) -> list[tuple[bytes, bool]]:
        """What is left when the stream ended without a last newline."""
        return [self._take()] if self._buffer else []

    def _take(self) -> tuple[bytes, bool]:
        line = bytes(self._buffer[: self._cap]).rstrip(b"\r")
        truncated = len(self._buffer) > self._cap
        self._buffer.clear()
        return line, truncated
