"""Project committed samples from the store into a sink, in commit order, with a durable cursor.

Order matters for exactly-once: write and fsync the samples, then record (last seq, byte offset,
digest) in the store. A crash between the two leaves lines past the cursor, which `Sink.open`
cuts before the exporter writes them again; the cursor never runs ahead of the disk.

Only one process writes a job's dataset: the holder of its exporter role, a lease in the store
(`ExportRole`). Every cursor write is fenced by the role's token and every sink write follows a
check that the lease still runs, so a process that lost the role (its lease expired and another
took it over) stops before it writes, and can never move the cursor. Processes that do not
hold the role work tasks only; one of them takes the role over when its holder goes away.

Samples this process committed are handed over in memory (`offer`), so a running job does not
read back what it just wrote. They are used only while their seqs follow the cursor without a
gap; anything else (a sample of an earlier run, another worker's commit, a sequence gap) is read
from the store, which stays the source of truth.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import anyio

from destilation.domain import Event, JobRecord, Sample, SinkCursor, TaskState
from destilation.interfaces import EXPORTER_ROLE, Sink, StateStore, StoreError

MAX_OFFERED = 20_000
"""Committed samples held for the exporter at most; past that they are read back from the store."""

ROLE_POLL = 0.5
"""Seconds between attempts to take the exporter role while another process holds it."""


class RoleLost(Exception):
    """The exporter role changed hands: this process must not write the dataset any more."""


class Exporter:
    """Keeps one sink caught up with the store; `offer()` it the samples of each commit.

    Open it with the fence of the exporter role (and a `guard` that raises `RoleLost` once the
    role is gone); without a fence, as in tools and tests, its cursor writes are not fenced.
    """

    def __init__(self, store: StateStore, job: str, name: str, sink: Sink, *, page: int = 2000) -> None:
        self.store = store
        self.job = job
        self.name = name
        self.sink = sink
        self.page = page
        self.cursor = SinkCursor()
        self._offered: dict[int, Sample] = {}
        self._fence: int | None = None
        self._guard: Callable[[], Awaitable[None]] = _no_guard
        self.written = 0

    async def open(self, fence: int | None = None, guard: Callable[[], Awaitable[None]] | None = None) -> None:
        """Repair the sink to the stored cursor; `guard()` is awaited before every write."""
        self._fence, self._guard = fence, guard or _no_guard
        stored = await self.store.get_cursor(self.job, self.name)
        self.cursor = await self.sink.open(stored)
        if self.cursor != stored:
            await self._record(self.cursor)

    def offer(self, samples: Iterable[Sample]) -> None:
        """Samples whose commit just succeeded, `seq` set."""
        if len(self._offered) < MAX_OFFERED:
            for sample in samples:
                assert sample.seq is not None
                self._offered[sample.seq] = sample

    async def _record(self, cursor: SinkCursor) -> None:
        if not await self.store.set_cursor(self.job, self.name, cursor, self._fence):
            raise RoleLost(f"the cursor of {self.name} was refused: another process exports job {self.job!r} now")

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
                await self._guard()
                offset = await self.sink.write(samples)
                last = samples[-1].seq
                assert last is not None
                self.cursor = SinkCursor(last, offset, self.sink.digest())
                await self._record(self.cursor)
            done = self.cursor.seq
            if self._offered and min(self._offered) <= done:  # read from the store meanwhile
                self._offered = {seq: s for seq, s in self._offered.items() if seq > done}
            total += len(samples)
            self.written += len(samples)


async def _no_guard() -> None:
    """Unfenced exporters write without asking."""


class ExportRole:
    """This process's hold on a job's exporter role, and the exporters (one per sink) under it.

    `take` tries to get the role and, when it did, opens the sinks. `follow` runs beside the
    work: it keeps the lease, catches the sinks up as samples commit, and takes the role over
    when its holder goes away. `settle` makes sure, at the end of a run, that the dataset holds
    every committed sample, or tells who is still writing it.
    """

    def __init__(
        self,
        store: StateStore,
        job: str,
        owner: str,
        lease_s: float,
        exporters: Sequence[Exporter],
        emit: Callable[[Event], None],
    ) -> None:
        self.store = store
        self.job = job
        self.owner = owner
        self.lease_s = lease_s
        self.exporters = exporters
        self.emit = emit
        self.fence: int | None = None
        """The role's token while this process holds it."""
        self.holder: str | None = None
        """Who held the role when this process last failed to take it."""
        self._renewed = 0.0
        self._wake = anyio.Event()

    @property
    def held(self) -> bool:
        return self.fence is not None

    def offer(self, samples: Sequence[Sample]) -> None:
        """Samples of a commit: for the sinks while this process holds the role; wakes `follow`."""
        if self.fence is not None:
            for exporter in self.exporters:
                exporter.offer(samples)
            self._wake.set()

    async def take(self) -> bool:
        """Take the role when it is free or its lease ran out, then open the sinks; True when held."""
        if self.fence is not None:
            return True
        now = time.monotonic()
        lease = await self.store.acquire_role(self.job, EXPORTER_ROLE, self.owner, self.lease_s)
        if not lease.held_by(self.owner):
            self.holder = lease.owner
            return False
        self.fence, self._renewed = lease.fence, now
        if self.holder is not None:
            self.emit(Event("exporter_taken", self.job, f"took over writing the dataset from {self.holder}"))
            self.holder = None
        try:
            for exporter in self.exporters:
                await exporter.open(lease.fence, self.keep)
        except RoleLost:
            await self._lost()
            return False
        return True

    async def keep(self) -> None:
        """Renew the lease when a third of it has passed; raise `RoleLost` when it changed hands.

        Awaited before every sink write: a write follows a confirmation of the lease by at most
        a third of its length, so another process cannot have taken the role yet.
        """
        if self.fence is None:
            raise RoleLost(f"this process does not hold the exporter role of job {self.job!r}")
        now = time.monotonic()
        if now - self._renewed < self.lease_s / 3:
            return
        if not await self.store.renew_role(self.job, EXPORTER_ROLE, self.owner, self.fence, self.lease_s):
            raise RoleLost(f"another process took over the exporter role of job {self.job!r}")
        self._renewed = now

    async def _lost(self) -> None:
        self.fence = None
        await self._close()
        self.emit(
            Event(
                "exporter_lost",
                self.job,
                "another process took over writing the dataset; this one stopped writing it",
                severity="warning",
            )
        )

    async def catch_up(self) -> bool:
        """Catch every sink up with the store while the role is held; False when it is not (any more)."""
        if self.fence is None:
            return False
        try:
            await self.keep()
            for exporter in self.exporters:
                await exporter.catch_up()
        except RoleLost:
            await self._lost()
            return False
        return True

    async def follow(self, interval: float = 0.5, min_gap: float = 0.2) -> None:
        """Hold the role (or wait for it) and keep the sinks caught up, until cancelled.

        At most one catch-up per `min_gap`, so a busy job appends (and fsyncs) in large slices
        instead of once per commit.
        """
        while True:
            if not await self.take():
                await anyio.sleep(ROLE_POLL)
                continue
            with anyio.move_on_after(interval):
                await self._wake.wait()
            self._wake = anyio.Event()
            await self.catch_up()
            await anyio.sleep(min_gap)

    async def settle(self, wait_s: float) -> str:
        """At the end of a run: take the role (waiting up to `wait_s` for it) and catch up.

        Returns "" when the dataset holds every committed sample, else one line saying which
        process holds the role and so is still writing the dataset.
        """
        deadline = time.monotonic() + wait_s
        while not (await self.take() and await self.catch_up()):
            if time.monotonic() >= deadline:
                holder = self.holder or "another process"
                return f"the dataset is being written by {holder}, which holds the job's exporter role"
            await anyio.sleep(ROLE_POLL)
        return ""

    async def finalize(self, record: JobRecord, counts: dict[TaskState, int]) -> None:
        """Write the sinks' side files (metadata, card), if this process still holds the role."""
        if await self.catch_up():
            for exporter in self.exporters:
                await exporter.sink.finalize(record, counts)

    async def release(self) -> None:
        """Hand the role back, so another process need not wait for the lease to run out.

        The sinks are closed first: no open file outlives the tenure, so the next holder is the
        only process that has the dataset open.
        """
        fence, self.fence = self.fence, None
        if fence is not None:
            with anyio.CancelScope(shield=True):
                await self._close()
                # A store that cannot take the release back (a full disk, say) must not hide how the
                # run ended: the lease runs out, and on SQLite the next runner frees it at once.
                with contextlib.suppress(StoreError):
                    await self.store.release_role(self.job, EXPORTER_ROLE, self.owner, fence)

    async def _close(self) -> None:
        """Close every sink; `take` opens them again should the role come back."""
        for exporter in self.exporters:
            await exporter.sink.aclose()
