"""The no-extra-turn stream and limiter helpers behave like anyio's own calls."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from destilation.engine.attempts import remember_fingerprints
from destilation.engine.streams import Handoff, send_soon, take

pytestmark = pytest.mark.anyio


async def test_send_soon_waits_for_room() -> None:
    send, receive = anyio.create_memory_object_stream[int](max_buffer_size=1)
    got: list[int] = []

    async def consume() -> None:
        await anyio.sleep(0.01)  # the producer fills the buffer meanwhile
        async with receive:
            async for item in receive:
                got.append(item)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        async with send:
            await send_soon(send, 0)  # room in the buffer: taken at once
            await send_soon(send, 1)  # full: waits until the consumer takes 0
            await send_soon(send, 2)
            await anyio.sleep(0.01)  # the consumer now waits on an empty, open stream
            await send_soon(send, 3)
            await anyio.sleep(0.01)  # and waits again when the stream is closed under it
    assert got == [0, 1, 2, 3]


async def test_send_soon_to_departed_receivers_is_cancelled_quietly_in_a_cancelled_scope() -> None:
    send, receive = anyio.create_memory_object_stream[int](max_buffer_size=4)
    receive.close()
    with anyio.CancelScope() as scope:
        scope.cancel()
        await send_soon(send, 1)  # as `send` would: the cancellation wins, nothing is raised
    assert scope.cancelled_caught
    with pytest.raises(anyio.BrokenResourceError):
        await send_soon(send, 2)


async def test_handoff_gives_items_to_waiting_consumers_in_order_then_none_once_closed() -> None:
    tasks: Handoff[int] = Handoff()
    tasks.put(1)  # nobody waits yet: queued
    got: list[int | None] = []

    async def consume() -> None:
        while (item := await tasks.get()) is not None:
            got.append(item)
            await anyio.lowlevel.checkpoint()
        got.append(None)

    async with anyio.create_task_group() as tg:
        tg.start_soon(consume)
        tg.start_soon(consume)
        await anyio.sleep(0.01)  # both drain the queue, then wait
        for item in (2, 3, 4):
            tasks.put(item)  # straight to a waiting consumer
        await anyio.sleep(0.01)
        tasks.close()
    assert sorted(i for i in got if i is not None) == [1, 2, 3, 4] and got.count(None) == 2
    assert await tasks.get() is None  # closed and empty


async def test_handoff_skips_consumers_that_left_and_never_drops_an_item_handed_to_one_cancelled() -> None:
    tasks: Handoff[str] = Handoff()
    async with anyio.create_task_group() as tg:
        tg.start_soon(tasks.get)
        await anyio.sleep(0.01)
        tg.cancel_scope.cancel()  # cancelled while waiting, before anything was handed
    tasks.put("first")  # skips the departed consumer
    assert await tasks.get() == "first"

    # A raw asyncio cancel lands even after the wait was answered (anyio's scopes wait for it).
    consumer = asyncio.ensure_future(tasks.get())
    await anyio.sleep(0.01)
    tasks.put("second")  # handed to it ...
    consumer.cancel()  # ... and cancelled before it ran again
    with pytest.raises(asyncio.CancelledError):
        await consumer
    assert await tasks.get() == "second"  # passed on, not lost


async def test_take_waits_for_a_slot_held_elsewhere() -> None:
    limiter = anyio.CapacityLimiter(1)
    order: list[str] = []

    async def holder() -> None:
        await take(limiter)
        order.append("held")
        await anyio.sleep(0.02)
        order.append("released")
        limiter.release()

    async with anyio.create_task_group() as tg:
        tg.start_soon(holder)
        await anyio.sleep(0.005)
        await take(limiter)  # no free slot: waits for the holder
        order.append("taken")
        limiter.release()
    assert order == ["held", "released", "taken"]


def test_fingerprints_are_computed_once_per_content_object() -> None:
    calls: list[Any] = []

    def fingerprint(content: Any) -> str:
        calls.append(content)
        return f"h{len(calls)}"

    remembered = remember_fingerprints(fingerprint, size=4)
    first, second, third, fourth, fifth = {"q": 1}, {"q": 1}, {"q": 2}, {"q": 3}, {"q": 4}
    assert remembered(first) == remembered(first) == "h1"
    assert remembered(second) == "h2"  # equal but another object: computed, never mixed up
    assert remembered(third) == "h3"
    assert remembered(fourth) == "h4"
    assert remembered(fifth) == "h5"  # the cache was full: the older half is forgotten
    assert remembered(first) == "h6"
    assert remembered(fourth) == "h4"  # the newer half is kept
    assert len(calls) == 6
