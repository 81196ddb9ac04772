"""Project committed samples from the store into a sink, in commit order, with a durable cursor.

Order matters for exactly-once: write and fsync the samples, then record (last seq, byte offset)
in the store. A crash between the two leaves lines past the cursor, which `Sink.open` cuts
before the exporter writes them again; the cursor never runs ahead of the disk.

Samples this process committed are handed over in memory (`offer`), so a running job does not
read back what it just wrote. They are used only while their seqs follow the cursor without a
gap; anything else (a sample of an earlier run, another worker's commit, a sequence gap) is read
from the store, which stays the source of truth.
"""

from __future__ import annotations

from collections.abc import Iterable

import anyio

from destilation.domain import Sample, SinkCursor
from destilation.interfaces import Sink, StateStore

MAX_OFFERED = 20_000
"""Committed samples held for the exporter at most; past that they are read back from the store."""


class Exporter:
    """Keeps one sink caught up with the store; `offer()` it the samples of each commit."""

    def __init__(self, store: StateStore, job: str, name: str, sink: Sink, *, page: int = 2000) -> None:
        self.store = store
        self.job = job
        self.name = name
        self.sink = sink
        self.page = page
        self.cursor = SinkCursor()
        self._wake = anyio.Event()
        self._offered: dict[int, Sample] = {}
        self.written = 0

    async def open(self) -> None:
        stored = await self.store.get_cursor(self.job, self.name)
        self.cursor = await self.sink.open(stored)
        if self.cursor != stored:
            await self.store.set_cursor(self.job, self.name, self.cursor)

    def offer(self, samples: Iterable[Sample]) -> None:
        """Samples whose commit just succeeded, `seq` set; wakes the exporter."""
        if len(self._offered) < MAX_OFFERED:
            for sample in samples:
                assert sample.seq is not None
                self._offered[sample.seq] = sample
        self._wake.set()

    async def _next_page(self) -> list[Sample]:
        page: list[Sample] = []
        seq = self.cursor.seq + 1
        while len(page) < self.page and (sample := self._offered.pop(seq, None)) is not None:
            page.append(sample)
            seq += 1
        if page:
            return page
        return await self.store.samples_after(self.job, self.cursor.seq, self.page)

    async def catch_up(self) -> int:
        """Write every committed sample past the cursor; return how many were written."""
        total = 0
        while True:
            samples = await self._next_page()
            if not samples:
                return total
            with anyio.CancelScope(shield=True):
                offset = await self.sink.write(samples)
                last = samples[-1].seq
                assert last is not None
                self.cursor = SinkCursor(last, offset)
                await self.store.set_cursor(self.job, self.name, self.cursor)
            done = self.cursor.seq
            if self._offered and min(self._offered) <= done:  # read from the store meanwhile
                self._offered = {seq: s for seq, s in self._offered.items() if seq > done}
            total += len(samples)
            self.written += len(samples)

    async def run(self, interval: float = 0.5, min_gap: float = 0.2) -> None:
        """Follow the store until cancelled; the caller runs a last `catch_up` after.

        At most one catch-up per `min_gap`, so a busy job appends (and fsyncs) in large slices
        instead of once per commit.
        """
        while True:
            with anyio.move_on_after(interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            await self.catch_up()
            await anyio.sleep(min_gap)
