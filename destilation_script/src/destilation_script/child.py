"""One running child program: started in its own session, its whole process group killed at the end.

anyio's own process handling signals only the child it started; a provider script that starts
helpers of its own would leave them behind, so every signal here goes to the group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence

import anyio
from anyio.abc import Process

POLL_S = 0.01


class StartError(Exception):
    """The program could not be started at all (not found, not executable, a bad cwd)."""


async def spawn(argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> Child:
    try:
        process = await anyio.open_process(
            list(argv),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=cwd,
            env=dict(env),
            start_new_session=True,
        )
    except OSError as exc:
        where = f" in {cwd!r}" if cwd else ""
        raise StartError(f"cannot start {argv[0]!r}{where}: {exc.strerror or exc}") from None
    return Child(process)


class Child:
    """The process and its pipes; writes are serialised, reads belong to whoever pumps."""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.pid = process.pid
        self._send_lock = anyio.Lock()

    async def send(self, line: bytes) -> None:
        """Write one line; raises anyio.BrokenResourceError (or ClosedResourceError) once the child is gone."""
        assert self.process.stdin is not None
        async with self._send_lock:
            await self.process.stdin.send(line)

    def _signal_group(self, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)

    async def _exited_within(self, seconds: float) -> bool:
        # Polled, not awaited under a deadline: a cancellation thrown through the caller's frames
        # would hide them from line tracing (and this runs once per shutdown, not per request).
        deadline = time.monotonic() + seconds
        while self.process.returncode is None and time.monotonic() < deadline:
            await anyio.sleep(POLL_S)
        return self.process.returncode is not None

    async def stop(self, grace_s: float) -> int | None:
        """Shut down in order: stdin closed, SIGTERM to the group, then SIGKILL; returns the exit code."""
        with anyio.CancelScope(shield=True):
            assert self.process.stdin is not None
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                await self.process.stdin.aclose()
            if not await self._exited_within(grace_s):
                self._signal_group(signal.SIGTERM)
                await self._exited_within(grace_s)
        return await self.kill()

    async def kill(self) -> int | None:
        """SIGKILL the whole group (helpers the child started included) and reap the child.

        The pipes stay open: what the child wrote before it died can still be read (`close`).
        """
        with anyio.CancelScope(shield=True):
            self._signal_group(signal.SIGKILL)
            await self.process.wait()
        return self.process.returncode

    async def close(self) -> None:
        """Close the pipes once nothing more is to be read from them."""
        with anyio.CancelScope(shield=True):
            for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
                if stream is not None:
                    with contextlib.suppress(OSError, anyio.BrokenResourceError):
                        await stream.aclose()
