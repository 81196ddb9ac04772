"""One writer that batches state transitions, so the store sees few, large transactions.

Slots hand in transitions; the writer commits everything queued in one transaction while
the next batch gathers. A sample counts only after its transaction committed.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from destilation.domain import Sample
from destilation.engine.streams import send_soon
from destilation.interfaces import Accept, CommitResult, StateStore, Transition


class Pending:
    """A transition waiting for its commit; `wait()` returns what the store did with it."""

    __slots__ = ("_done", "result", "transition")

    def __init__(self, transition: Transition) -> None:
        self.transition = transition
        self.result: CommitResult | None = None
        self._done: anyio.Event | None = None

    def _resolve(self, result: CommitResult) -> None:
        self.result = result
        if self._done is not None:
            self._done.set()

    async def wait(self) -> CommitResult:
        if self.result is None:
            self._done = anyio.Event()
            await self._done.wait()
        assert self.result is not None
        return self.result


def accepted_in(batch: list[Pending]) -> list[tuple[Sample, int]]:
    """The samples a committed batch accepted, each with the `seq` the store gave it."""
    return [
        (p.transition.sample, p.result.seq)
        for p in batch
        if isinstance(p.transition, Accept) and p.result is not None and p.result.seq is not None
    ]


class BatchWriter:
    """Commits transitions in batches of up to `max_batch`; `on_commit` runs after each batch."""

    def __init__(
        self,
        store: StateStore,
        owner: str,
        *,
        max_batch: int = 512,
        gather_s: float = 0.02,
        on_commit: Callable[[list[Pending]], None] | None = None,
    ) -> None:
        self.store = store
        self.owner = owner
        self.max_batch = max_batch
        self.gather_s = gather_s
        self.on_commit = on_commit
        self._send: MemoryObjectSendStream[Pending]
        self._receive: MemoryObjectReceiveStream[Pending]
        self._send, self._receive = anyio.create_memory_object_stream[Pending](max_buffer_size=max_batch * 8)
        self.committed = 0
        self.submitted = 0
        """Transitions handed in; once `committed` catches up, the store has seen them all."""
        self._running = False

    async def submit(self, transition: Transition) -> Pending:
        """Queue a transition; await `.wait()` on the result to learn its fate."""
        pending = Pending(transition)
        await send_soon(self._send, pending)  # the caller awaits the commit next
        self.submitted += 1
        return pending

    async def flush(self) -> None:
        """Wait until the store has seen every transition handed in so far; at once if `run` is not running."""
        while self.committed < self.submitted and self._running:
            await anyio.sleep(self.gather_s)

    def close(self) -> None:
        """No more transitions: `run` commits what is queued and returns."""
        self._send.close()

    async def run(self) -> None:
        self._running = True
        try:
            await self._run()
        finally:
            self._running = False

    async def _run(self) -> None:
        async with self._receive:
            async for first in self._receive:
                # Gathering turns many tiny transactions into one. 20 ms, not less: answers that
                # trickle in (slots beyond the providers' concurrency keep requests going out
                # meanwhile) would otherwise commit in many small batches, each with its own
                # transaction and, with worker processes, its own turn at the SQLite write lock.
                await anyio.sleep(self.gather_s)
                batch = [first]
                while len(batch) < self.max_batch:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (anyio.WouldBlock, anyio.EndOfStream):
                        break
                await self._commit(batch)

    async def _commit(self, batch: list[Pending]) -> None:
        # Shielded: a pause or Ctrl-C must not cut a commit whose outcome slots wait for.
        with anyio.CancelScope(shield=True):
            results = await self.store.commit(self.owner, [p.transition for p in batch])
        for pending, result in zip(batch, results, strict=True):
            pending._resolve(result)
        self.committed += len(batch)
        if self.on_commit is not None:
            self.on_commit(batch)
