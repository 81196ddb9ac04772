"""Control messages between a run's main process and one of its worker processes.

Each side posts messages without waiting; one pump sends everything posted since its last turn
as one frame (a 4-byte length, then a pickle of the list). Both ends are this program, forked
from one process, so unpickling what arrives is as safe as running it.
"""

from __future__ import annotations

import pickle
import struct
from collections.abc import AsyncIterator
from typing import Any

import anyio
from anyio.abc import ByteStream

_FRAME = struct.Struct("!I")
_READ_SIZE = 1 << 16
_GONE = (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError)


class Channel:
    """A message channel over a byte stream; `post` is synchronous and cheap."""

    def __init__(self, stream: ByteStream) -> None:
        self._stream = stream
        self._outbox: list[Any] = []
        self._posted = anyio.Event()

    def post(self, message: Any) -> None:
        """Queue `message`; the pump sends it on its next turn."""
        self._outbox.append(message)
        self._posted.set()

    async def pump(self) -> None:
        """Send what is posted, a batch a turn, until cancelled or the other side is gone."""
        while True:
            await self._posted.wait()
            self._posted = anyio.Event()
            batch, self._outbox = self._outbox, []
            data = pickle.dumps(batch, pickle.HIGHEST_PROTOCOL)
            try:
                await self._stream.send(_FRAME.pack(len(data)) + data)
            except _GONE:
                return

    async def messages(self) -> AsyncIterator[Any]:
        """The messages the other side sent, in order; ends when it closes or goes away."""
        buffer = bytearray()
        while True:
            while len(buffer) >= _FRAME.size:
                (size,) = _FRAME.unpack_from(buffer)
                end = _FRAME.size + size
                if len(buffer) < end:
                    break
                batch: list[Any] = pickle.loads(buffer[_FRAME.size : end])
                del buffer[:end]
                for message in batch:
                    yield message
            try:
                buffer += await self._stream.receive(_READ_SIZE)
            except _GONE:
                return

    async def aclose(self) -> None:
        await self._stream.aclose()
