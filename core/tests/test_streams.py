"""The no-extra-turn stream and limiter helpers behave like anyio's own calls."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from destilation.engine.attempts import remember_fingerprints
from destilation.engine.streams import each, send_soon, take

pytestmark = pytest.mark.anyio


async def test_send_soon_waits_for_room_and_each_drains_then_ends() -> None:
    send, receive = anyio.create_memory_object_stream[int](max_buffer_size=1)
    got: list[int] = []

    async def consume() -> None:
        await anyio.sleep(0.01)  # the producer fills the buffer meanwhile
        async with receive:
            async for item in each(receive):
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


async def test_each_ends_at_once_on_a_closed_empty_stream() -> None:
    send, receive = anyio.create_memory_object_stream[int](max_buffer_size=4)
    send.send_nowait(7)
    send.close()
    assert [item async for item in each(receive)] == [7]


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
