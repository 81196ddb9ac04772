"""Coalesce many concurrent membership questions into one query.

Validators ask "is this content hash stored?" once per candidate, thousands of times a second.
One database round trip each would queue them all behind the store's single connection; here
the first asker runs one query for everything asked meanwhile, and the others wait for it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
import anyio.lowlevel

Key = tuple[str, str]


class _Slot:
    __slots__ = ("answer", "done")

    def __init__(self) -> None:
        self.done = anyio.Event()
        self.answer: bool | None = None


class Coalescer:
    """`ask(key)` answers whether `key` is in the store; concurrent asks share one `fetch`."""

    def __init__(self, fetch: Callable[[list[Key]], Awaitable[set[Key]]]) -> None:
        self._fetch = fetch
        self._waiting: dict[Key, _Slot] = {}
        self._leading = False

    async def ask(self, key: Key) -> bool:
        while True:
            slot = self._waiting.get(key)
            if slot is None:
                slot = self._waiting[key] = _Slot()
            if not self._leading:
                await self._lead()
            await slot.done.wait()
            if slot.answer is not None:
                return slot.answer
            # The leader was cancelled before answering: ask again (and perhaps lead).

    async def _lead(self) -> None:
        self._leading = True
        batch: dict[Key, _Slot] = {}
        try:
            while self._waiting:
                await anyio.lowlevel.checkpoint()  # one event-loop turn lets concurrent askers join this batch
                batch, self._waiting = self._waiting, {}
                found = await self._fetch(list(batch))
                for key, slot in batch.items():
                    slot.answer = key in found
                    slot.done.set()
                batch = {}
        finally:
            self._leading = False
            # Cancelled mid-fetch: wake every unanswered asker, in flight or queued behind us,
            # so one of them leads the next fetch.
            stranded, self._waiting = [*batch.values(), *self._waiting.values()], {}
            for slot in stranded:
                slot.done.set()
