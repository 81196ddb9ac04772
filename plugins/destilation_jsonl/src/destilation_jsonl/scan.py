"""What the data file holds, for the card: line count, first record, samples per provider and model.

The file is the dataset, so the card describes what it holds rather than what the spec planned
(providers may come from the global config, a template from a file). Lines the sink appends are
tallied as they are written; only the part of the file that was there when the sink opened is
read back at finalize. Lines are this sink's own output, so `meta` is normally the last key: its
object is cut out with ``rfind`` and parsed alone, which keeps a pass over a million lines in
seconds. Anything else is parsed in full.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from typing import Any

import attrs

_META = b'"meta":{'


@attrs.frozen
class Scan:
    lines: int
    first: dict[str, Any] | None
    """The first record, for the card's field list and the template's id and version."""
    models: list[tuple[str, str, int]]
    """(provider, model, samples), most samples first."""


def _meta(line: bytes) -> dict[str, Any] | None:
    at = line.rfind(_META)
    if at >= 0 and line.endswith(b"}"):
        try:
            meta = json.loads(line[at + len(_META) - 1 : -1])
        except ValueError:
            meta = None
        if isinstance(meta, dict):
            return meta
    try:
        record = json.loads(line)
    except ValueError:
        return None  # an edited line: counted, not described
    meta = record.get("meta") if isinstance(record, dict) else None
    return meta if isinstance(meta, dict) else None


def _parse(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


class Tally:
    """A running description of lines, fed by `scan` (lines read back) and `add` (lines written)."""

    def __init__(self) -> None:
        self.lines = 0
        self.first: dict[str, Any] | None = None
        self.models: Counter[tuple[str, str]] = Counter()

    def add(self, line: bytes, provider: str, model: str) -> None:
        """A line this sink wrote (without its newline), whose lineage it knows."""
        if self.lines == 0:
            self.first = _parse(line)
        self.lines += 1
        self.models[(provider, model)] += 1

    def extend(self, other: Tally) -> None:
        """Append `other`'s lines after this tally's."""
        if self.lines == 0:
            self.first = other.first
        self.lines += other.lines
        self.models.update(other.models)

    def result(self) -> Scan:
        ranked = sorted(self.models.items(), key=lambda kv: (-kv[1], kv[0]))
        return Scan(self.lines, self.first, [(provider, model, n) for (provider, model), n in ranked])


def scan(fd: int, end: int, chunk: int = 1 << 20) -> Tally:
    """Read the first `end` bytes (complete lines, as the cursor vouches) once."""
    tally = Tally()
    rest = b""
    position = 0
    while position < end:
        data = os.pread(fd, min(chunk, end - position), position)
        if not data:
            break  # the file shrank behind our back; describe what is there
        position += len(data)
        *complete, rest = (rest + data).split(b"\n")
        for line in complete:
            if tally.lines == 0:
                tally.first = _parse(line)
            tally.lines += 1
            meta = _meta(line)
            if meta is not None:
                tally.models[(str(meta.get("provider")), str(meta.get("model")))] += 1
    return tally
