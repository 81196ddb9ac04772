"""The control channel between a run's main process and its workers, over a real socket pair."""

from __future__ import annotations

import socket

import anyio
import pytest
from anyio.abc import SocketStream

from destilation.engine.channel import Channel

pytestmark = pytest.mark.anyio


async def pair() -> tuple[Channel, Channel]:
    ours, theirs = socket.socketpair()
    return Channel(await SocketStream.from_socket(ours)), Channel(await SocketStream.from_socket(theirs))


async def test_messages_arrive_in_order_and_end_when_the_sender_closes() -> None:
    left, right = await pair()
    received: list[object] = []
    async with anyio.create_task_group() as group:
        group.start_soon(left.pump)
        for word in ("start", ("task", 1), {"big": "x" * 200_000}, "stop"):
            left.post(word)  # posted in one turn: they travel as one frame
        await anyio.sleep(0.05)
        left.post("after")  # another turn, another frame
        await anyio.sleep(0.05)
        await left.aclose()
        async for message in right.messages():
            received.append(message)
        group.cancel_scope.cancel()
    assert received == ["start", ("task", 1), {"big": "x" * 200_000}, "stop", "after"]
    await right.aclose()


async def test_the_pump_stops_when_the_other_side_is_gone() -> None:
    left, right = await pair()
    await right.aclose()
    ended = anyio.Event()

    async def pump() -> None:
        await left.pump()  # returns instead of raising
        ended.set()

    async with anyio.create_task_group() as group:
        group.start_soon(pump)
        # A write to a closed peer may be buffered once before the loss shows; the next one fails.
        with anyio.fail_after(5):
            while not ended.is_set():
                left.post("anyone there?")
                await anyio.sleep(0.02)
    await left.aclose()


async def test_a_closed_channel_yields_nothing() -> None:
    left, right = await pair()
    await right.aclose()
    assert [m async for m in left.messages()] == []
    await left.aclose()
