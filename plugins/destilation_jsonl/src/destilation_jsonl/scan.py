"""One pass over the data file at finalize: line count, first record, samples per provider and model.

The file is the dataset, so the card describes what it holds rather than what the spec planned
(providers may come from the global config, a template from a file). Lines are this sink's own
output, so `meta` is normally the last key: its object is cut out with ``rfind`` and parsed
alone, which keeps a pass over a million lines in seconds. Anything else is parsed in full.
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


def scan(fd: int, end: int, chunk: int = 1 << 20) -> Scan:
    """Read the first `end` bytes (complete lines, as the cursor vouches) once."""
    lines = 0
    first: dict[str, Any] | None = None
    tally: Counter[tuple[str, str]] = Counter()
    rest = b""
    position = 0
    while position < end:
        data = os.pread(fd, min(chunk, end - position), position)
        if not data:
            break  # the file shrank behind our back; describe what is there
        position += len(data)
        *complete, rest = (rest + data).split(b"\n")
        for line in complete:
            if lines == 0:
                first = _parse(line)
            lines += 1
            meta = _meta(line)
            if meta is not None:
                tally[(str(meta.get("provider")), str(meta.get("model")))] += 1
    models = [(provider, model, n) for (provider, model), n in sorted(tally.items(), key=lambda kv: (-kv[1], kv[0]))]
    return Scan(lines, first, models)
