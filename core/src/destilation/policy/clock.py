"""Where the policy reads the time and how it waits: a real clock, or a manual one for tests.

Pacing is arithmetic on timestamps, so a test that injects `ManualClock` checks a minute of
pacing without spending a minute.
"""

from __future__ import annotations

import time
from typing import Protocol

import anyio


class Clock(Protocol):
    """Monotonic time for pacing, epoch time for what is shown, and a way to wait."""

    def now(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The machine's clocks; `sleep` is anyio's, so a cancelled task stops waiting at once."""

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await anyio.sleep(seconds)


class ManualClock:
    """A clock that only moves when someone sleeps: sleeping `s` moves it to at least start + `s`.

    Concurrent sleepers may see it jump past their own target (time never goes back), which is
    what a pacing guarantee must survive anyway.
    """

    def __init__(self, start: float = 0.0, epoch: float = 1_700_000_000.0) -> None:
        self._now = start
        self._epoch = epoch

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._epoch + self._now

    def advance(self, seconds: float) -> None:
        self._now += max(0.0, seconds)

    async def sleep(self, seconds: float) -> None:
        self._now = max(self._now, self._now + seconds)
        await anyio.lowlevel.checkpoint()
