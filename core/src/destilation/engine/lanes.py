"""A worker process seen from the main process: told when to start and when to stop, watched for loss.

Workers share the work through the store: each claims its own tasks under its own lease owner
and commits them itself. The main process plans tasks, exports the dataset and decides the
job's state; before it finishes the dataset it stops every worker, so the export sees all
that they committed.
"""

from __future__ import annotations

from collections.abc import Callable

import anyio

from destilation.engine.channel import Channel
from destilation.engine.forking import WorkerProcess

STOP_SECONDS = 30.0
"""How long a worker may take to stop its attempts and commit what it holds; past it, it is killed."""


class WorkerLane:
    """One worker process: `start()` once the job is ready, `stop()` before the dataset is final."""

    def __init__(self, process: WorkerProcess, channel: Channel) -> None:
        self.process = process
        self.channel = channel
        self._stopping = False
        self._stopped = False
        """It said it has committed all it will: its runner has ended."""
        self._ended = False
        """Its messages ended: it has exited or is about to."""
        self._settled = anyio.Event()
        """Set once it has stopped or ended."""

    @property
    def owner(self) -> str:
        return self.process.owner

    def start(self) -> None:
        self.channel.post("start")

    async def serve(self, lost: Callable[[str], None], committed: Callable[[int], None]) -> None:
        """Carry messages until the worker ends; `lost(why)` when it fails or ends without being asked to.

        A worker reports through the store; the channel tells how many samples each of its
        commits accepted (`committed(n)`, so the main process sees the job's end at once), that
        it has stopped, and why it gave up.
        """
        async with anyio.create_task_group() as group:
            group.start_soon(self.channel.pump)
            async for kind, value in self.channel.messages():
                if kind == "committed":
                    committed(value)
                elif kind == "stopped":
                    self._stopped = True
                    self._settled.set()
                else:  # "failed"
                    lost(value)
            self._ended = True
            self._settled.set()
            if not self._stopping:
                lost(f"worker process {self.process.pid} {await self.process.how_it_ended()}")
            group.cancel_scope.cancel()

    def ask_to_stop(self) -> None:
        """Tell the worker to stop its attempts; `stop()` then waits for it."""
        if not self._stopping:
            self._stopping = True
            self.channel.post("stop")

    async def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Ask the worker to stop and wait until it has committed what it holds.

        Closing its socket then makes it exit; one that has not stopped in time is killed.
        One that stopped but is still exiting is left to the run's end to collect.
        """
        self.ask_to_stop()
        with anyio.move_on_after(timeout):
            await self._settled.wait()
        await self.channel.aclose()
        if self._ended:
            await self.process.reap()
        elif not self._stopped:
            await self.process.reap(timeout=0.0)
