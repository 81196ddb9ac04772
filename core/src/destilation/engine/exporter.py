"""Project committed samples from the store into a sink, in commit order, with a durable cursor.

Order matters for exactly-once: write and fsync the samples, then record (last seq, byte offset)
in the store. A crash between the two leaves lines past the cursor, which `Sink.open` cuts
before the exporter writes them again; the cursor never runs ahead of the disk.
"""

from __future__ import annotations

import anyio

from destilation.domain import SinkCursor
from destilation.interfaces import Sink, StateStore


class Exporter:
    """Keeps one sink caught up with the store; `wake()` after a commit that accepted samples."""

    def __init__(self, store: StateStore, job: str, name: str, sink: Sink, *, page: int = 2000) -> None:
        self.store = store
        self.job = job
        self.name = name
        self.sink = sink
        self.page = page
        self.cursor = SinkCursor()
        self._wake = anyio.Event()
        self.written = 0

    async def open(self) -> None:
        stored = await self.store.get_cursor(self.job, self.name)
        self.cursor = await self.sink.open(stored)
        if self.cursor != stored:
            await self.store.set_cursor(self.job, self.name, self.cursor)

    def wake(self) -> None:
        self._wake.set()

    async def catch_up(self) -> int:
        """Write every committed sample past the cursor; return how many were written."""
        total = 0
        while True:
            samples = await self.store.samples_after(self.job, self.cursor.seq, self.page)
            if not samples:
                return total
            with anyio.CancelScope(shield=True):
                offset = await self.sink.write(samples)
                last = samples[-1].seq
                assert last is not None
                self.cursor = SinkCursor(last, offset)
                await self.store.set_cursor(self.job, self.name, self.cursor)
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
