"""Worker processes forked from the main process once a job is wired, before any event loop runs.

A forked worker inherits the imported modules and the built providers, validators and template,
so it starts in milliseconds. It never holds the runner lock; it opens its own store connection
after the fork. One socket links it to the main process and carries the word to start or stop,
and back how many samples each commit accepted, that it stopped, or why it gave up. It lives
exactly as long as that socket: when the main process ends, even by kill -9, the worker reads
end-of-file and exits.
"""

from __future__ import annotations

import functools
import os
import signal
import socket
import sys
import time
import traceback
from collections.abc import Callable

import anyio
import attrs

RUNNING = "is still running"
REAP_SECONDS = 5.0
"""How long a worker may take to exit once its socket closed, before it is killed."""


@attrs.define
class WorkerProcess:
    """A forked worker, seen from the main process."""

    pid: int
    sock: socket.socket
    owner: str
    """The lease owner its tasks are claimed under."""
    ended: str | None = None
    """How it ended, once it has and was reaped."""

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
        """Wait for the worker to exit after its socket closed; kill it past `timeout`."""
        deadline = time.monotonic() + timeout
        while self.describe_exit() == RUNNING:
            if time.monotonic() >= deadline:
                os.kill(self.pid, signal.SIGKILL)
                deadline = float("inf")
            await anyio.sleep(0.01)


def fork_workers(count: int, owner: str, main: Callable[[str, socket.socket], int]) -> list[WorkerProcess]:
    """Fork `count` workers, each running `main(its lease owner, its socket)`; returns in the main process only."""
    workers: list[WorkerProcess] = []
    sys.stdout.flush()
    sys.stderr.flush()
    for number in range(1, count + 1):
        ours, theirs = socket.socketpair()
        worker_owner = f"{owner}/w{number}"
        worker_main = functools.partial(main, worker_owner)
        inherited = [ours, *(w.sock for w in workers)]  # the main process's ends: the worker closes them
        pid = os.fork()
        if pid == 0:  # the worker; coverage restarts in it only for frames entered after the fork
            _run_worker(worker_main, theirs, inherited)  # pragma: no cover
        theirs.close()
        workers.append(WorkerProcess(pid, ours, worker_owner))
    return workers


def _run_worker(main: Callable[[socket.socket], int], sock: socket.socket, inherited: list[socket.socket]) -> None:
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
