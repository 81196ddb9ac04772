"""Workers forked by `destiler run` once the job is wired, before any event loop runs.

A forked worker is a worker like `destiler worker`: it runs a worker runner
(`service.open_worker_runner`) coordinated with the job's other processes only through the
store (claims, fenced commits, the job's state, its member row). Forked, it inherits the
imported modules and the built providers, validators and template, so it starts in
milliseconds; its lease owner is the run's, then ``/w<n>``, by which the run's processes share
their providers' limits (policy.peers.group_of).

One socket to the main process carries only the worker's lifetime, never a word about tasks:
the main process writes START once the job is stored and running (a job file that does not
match the stored job never starts one) and STOP before it finishes the dataset; the worker
writes one line if its job failed there (a provider that cannot go on) and exits once its
runner has ended, its exit status saying how. When the main process ends, even by kill -9,
the worker reads end-of-file and exits at once.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable
from contextlib import AsyncExitStack

import anyio
import attrs
from anyio.abc import SocketStream

from destilation.domain import JobState
from destilation.engine.assembly import Prepared
from destilation.engine.runner import JobRunner
from destilation.engine.service import open_worker_runner

START = b"g"
STOP = b"s"
RUNNING = "is still running"
EXITED = "exited with code 0"
REAP_SECONDS = 5.0
"""How long a worker may take to exit once its socket closed, before it is killed."""
STOP_SECONDS = 30.0
"""How long a worker may take to stop its attempts and commit what it holds; past it, it is killed."""
_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


@attrs.define
class ForkedWorker:
    """A forked worker, seen from the main process: started, watched, stopped and reaped by it."""

    pid: int
    sock: socket.socket
    owner: str
    """The lease owner its tasks are claimed under."""
    ended: str | None = None
    """How it ended, once it has and was reaped."""
    _link: SocketStream | None = None
    _stopping: bool = False
    _exited: anyio.Event = attrs.field(factory=anyio.Event)
    """Set once its socket closed: it has exited, or is about to."""

    def describe_exit(self) -> str:
        """How the worker ended, for a message: 'exited with code 1', 'was killed by SIGKILL', 'is still running'."""
        if self.ended is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid == 0:
                return RUNNING
            code = os.waitstatus_to_exitcode(status)
            self.ended = f"was killed by {signal.Signals(-code).name}" if code < 0 else f"exited with code {code}"
        return self.ended

    async def how_it_ended(self, timeout: float = 2.0) -> str:
        """`describe_exit` once the worker has exited: its socket can close a moment before it does."""
        deadline = time.monotonic() + timeout
        while (how := self.describe_exit()) == RUNNING and time.monotonic() < deadline:
            await anyio.sleep(0.01)
        return how

    async def reap(self, timeout: float = REAP_SECONDS) -> None:
        """Close its socket, which ends it, and wait for it to exit; kill it past `timeout`."""
        await self._close()
        deadline = time.monotonic() + timeout
        while self.describe_exit() == RUNNING:
            if time.monotonic() >= deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = float("inf")
            await anyio.sleep(0.01)

    async def _close(self) -> None:
        if self._link is not None:
            await self._link.aclose()
        else:
            self.sock.close()

    async def start(self) -> None:
        """Let it work: the job is stored and running."""
        self._link = self._link or await SocketStream.from_socket(self.sock)
        self._say(START)

    def _say(self, word: bytes) -> None:
        """Write one byte straight to the socket: a failed write through the stream would close it,
        losing what the worker wrote before it died; one that died is reported by `watch`."""
        with contextlib.suppress(OSError):
            self.sock.send(word)

    async def watch(self, lost: Callable[[str], None]) -> None:
        """Until the worker exits; `lost(why)` when its job failed there, or it ended badly or unasked.

        Ending unasked with code 0 is no loss: its runner saw the job end in the store.
        """
        assert self._link is not None, "started first"
        said = b""
        with contextlib.suppress(*_GONE):
            while True:
                said += await self._link.receive()
        self._exited.set()
        if said:
            lost(said.decode(errors="replace").strip())
        how = await self.how_it_ended()
        if how != EXITED and not self._stopping:
            lost(f"worker process {self.pid} {how}")

    def ask_to_stop(self) -> None:
        """Tell the worker to stop its attempts; `stop()` then waits for it."""
        if not self._stopping and self._link is not None:
            self._stopping = True
            self._say(STOP)

    async def stop(self, timeout: float = STOP_SECONDS) -> None:
        """Ask the worker to stop and wait until it has committed what it holds and exited.

        One that has not in time is killed.
        """
        self.ask_to_stop()
        with anyio.move_on_after(timeout):
            await self._exited.wait()
        await self.reap(timeout=REAP_SECONDS if self._exited.is_set() else 0.0)


def fork_workers(count: int, owner: str, main: Callable[[str, socket.socket], int]) -> list[ForkedWorker]:
    """Fork `count` workers, each running `main(its lease owner, its socket)`; returns in the main process only."""
    workers: list[ForkedWorker] = []
    sys.stdout.flush()
    sys.stderr.flush()
    for number in range(1, count + 1):
        ours, theirs = socket.socketpair()
        worker_owner = f"{owner}/w{number}"
        worker_main = functools.partial(main, worker_owner)
        inherited = [ours, *(w.sock for w in workers)]  # the main process's ends: the worker closes them
        pid = os.fork()
        if pid == 0:  # the worker; coverage restarts in it only for frames entered after the fork
            _run_forked(worker_main, theirs, inherited)  # pragma: no cover
        theirs.close()
        workers.append(ForkedWorker(pid, ours, worker_owner))
    return workers


def _run_forked(main: Callable[[socket.socket], int], sock: socket.socket, inherited: list[socket.socket]) -> None:
    """Run a worker's main and leave the process, never returning into the main process's code."""
    for other in inherited:
        other.close()
    # Ctrl-C and SIGTERM go to the main process, which pauses the job and stops its workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = 70
    try:
        code = main(sock)
    except BaseException:  # a worker must never fall back into the main process's stack
        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def work_forked(prepared: Prepared, processes: int, owner: str, sock: socket.socket) -> int:
    """A forked worker's main: wait for START, then work the job as any worker does."""
    return anyio.run(work, prepared, processes, owner, sock)


async def work(prepared: Prepared, processes: int, owner: str, sock: socket.socket) -> int:
    link = await SocketStream.from_socket(sock)
    if await _word(link) != START:  # the main process ended first: a done job, or an error
        return 0
    async with AsyncExitStack() as stack:
        runner = await open_worker_runner(stack, prepared, owner, processes)
        async with anyio.create_task_group() as group:
            group.start_soon(_obey, link, runner)
            outcome = await runner.run()
            if outcome.state is JobState.FAILED:  # a provider that cannot go on: the main process fails the job
                with contextlib.suppress(*_GONE):
                    await link.send(outcome.message.encode() + b"\n")
            group.cancel_scope.cancel()
    return 0


async def _word(link: SocketStream) -> bytes:
    """The main process's next word, or b"" once it is gone."""
    try:
        return await link.receive(1)
    except _GONE:
        return b""


async def _obey(link: SocketStream, runner: JobRunner) -> None:
    if await _word(link) == STOP:
        runner.stop(JobState.PAUSED, "stopped by the main process")
        await _word(link)  # the runner stops meanwhile, and the worker with it
    # The main process is gone, even by kill -9: stop at once. Whatever this worker has not
    # committed is lost exactly as the main process's own in-flight work is; resume redoes it.
    os._exit(0)  # pragma: no cover - ends the process; test_worker_processes kills a main process to see it
