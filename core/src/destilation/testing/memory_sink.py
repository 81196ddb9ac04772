"""`MemorySink`: a dataset kept in memory, with the byte-offset cursor rules of a file sink.

Each sample becomes one JSON line; the cursor's offset counts the bytes written, as in a JSONL
file. `open(cursor)` cuts lines past the cursor (a crash after the write, before the cursor was
stored) and reports a dataset that does not reach the cursor as lost, so the exporter rebuilds it.
A `MemoryDataset` outlives its sinks, the way a file outlives the process that wrote it.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import attrs

from destilation.domain import JobRecord, Sample, SinkCursor, TaskState
from destilation.interfaces import Sink


@attrs.define
class MemoryDataset:
    """What a sink wrote: the lines in order, and what `finalize` was told."""

    lines: list[bytes] = attrs.field(factory=list)
    finalized: list[tuple[JobRecord, dict[TaskState, int]]] = attrs.field(factory=list)
    writes: int = 0
    """How many `write` calls appended something."""

    @property
    def size(self) -> int:
        return sum(len(line) for line in self.lines)

    def records(self) -> list[dict[str, object]]:
        """The dataset's lines parsed back, as a reader of the JSONL file would see them."""
        return [json.loads(line) for line in self.lines]


class MemorySink(Sink):
    """Writes `Sample.record()` lines into a `MemoryDataset`."""

    def __init__(self, dataset: MemoryDataset | None = None) -> None:
        self.dataset = dataset if dataset is not None else MemoryDataset()
        self.closed = False

    async def open(self, cursor: SinkCursor) -> SinkCursor:
        kept: list[bytes] = []
        size = 0
        for line in self.dataset.lines:
            if size + len(line) > cursor.offset:
                break
            kept.append(line)
            size += len(line)
        if size != cursor.offset:  # lost, cut short or torn mid-line: rebuild it from the store
            self.dataset.lines.clear()
            return SinkCursor()
        self.dataset.lines[:] = kept
        return cursor

    async def write(self, samples: Sequence[Sample]) -> int:
        for sample in samples:
            text = json.dumps(sample.record(), ensure_ascii=False, separators=(",", ":"))
            self.dataset.lines.append(text.encode() + b"\n")
        if samples:
            self.dataset.writes += 1
        return self.dataset.size

    async def finalize(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
        self.dataset.finalized.append((job, dict(counts)))

    async def aclose(self) -> None:
        self.closed = True
