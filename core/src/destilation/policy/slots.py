"""A semaphore whose size can change while it is held: adaptive concurrency resizes it.

`anyio.CapacityLimiter` ties each token to a task; the policy needs a plain counter that hands
a freed slot to the oldest waiter, grows at once and shrinks as requests finish.
"""

from __future__ import annotations

from collections import deque
from types import TracebackType

import anyio


class Slots:
    """At most `limit` holders at once; waiters are served first come, first served."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.used = 0
        self._waiting: deque[anyio.Event] = deque()

    @property
    def waiting(self) -> int:
        return len(self._waiting)

    async def acquire(self) -> None:
        if self.used < self.limit and not self._waiting:
            self.used += 1
            return
        event = anyio.Event()
        self._waiting.append(event)
        try:
            await event.wait()
        except BaseException:
            if event.is_set():  # handed a slot while being cancelled: give it on
                self.release()
            else:
                self._waiting.remove(event)
            raise

    def release(self) -> None:
        self.used -= 1
        self._wake()

    def resize(self, limit: int) -> None:
        """A smaller limit takes effect as holders leave; a larger one lets waiters in now."""
        self.limit = max(1, limit)
        self._wake()

    def _wake(self) -> None:
        while self._waiting and self.used < self.limit:
            self.used += 1
            self._waiting.popleft().set()

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self, _type: type[BaseException] | None, _value: BaseException | None, _tb: TracebackType | None
    ) -> None:
        self.release()
