"""NDJSON, as Ollama streams it: one JSON object per line, lines cut anywhere by the transport."""

from __future__ import annotations


def _clean(line: bytes) -> bytes:
    return line.rstrip(b"\r") if line.strip() else b""


class LineSplitter:
    """Turns arbitrary chunks into complete lines; what comes after the last newline waits for more.

    Blank lines and a trailing carriage return are dropped, so `\\r\\n` endings read the same. The
    unfinished line is kept as a list of parts, so a long line in many small chunks costs linear time.
    """

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def feed(self, chunk: bytes) -> list[bytes]:
        """The lines `chunk` completes, in order."""
        if b"\n" not in chunk:
            if chunk:
                self._parts.append(chunk)
            return []
        head, *middle, tail = chunk.split(b"\n")
        first = b"".join([*self._parts, head])
        self._parts = [tail] if tail else []
        return [line for line in map(_clean, [first, *middle]) if line]

    def end(self) -> list[bytes]:
        """The last line when the body did not end with a newline (none otherwise)."""
        rest = _clean(b"".join(self._parts))
        self._parts = []
        return [rest] if rest else []
