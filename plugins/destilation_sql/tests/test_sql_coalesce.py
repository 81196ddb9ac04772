"""Concurrent content-hash questions share one query; a cancelled leader strands nobody."""

from __future__ import annotations

import anyio
import pytest

from destilation_sql.coalesce import Coalescer, Key
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_concurrent_asks_are_answered_by_one_fetch() -> None:
    fetched: list[list[Key]] = []

    async def fetch(keys: list[Key]) -> set[Key]:
        fetched.append(sorted(keys))
        return {("j", "a")}

    coalescer = Coalescer(fetch)
    answers: dict[str, bool] = {}

    async def ask(h: str) -> None:
        answers[h] = await coalescer.ask(("j", h))

    async with anyio.create_task_group() as tg:
        for h in ("a", "b", "c", "a"):
            tg.start_soon(ask, h)
    assert answers == {"a": True, "b": False, "c": False}
    assert fetched == [[("j", "a"), ("j", "b"), ("j", "c")]]


async def test_a_cancelled_leader_hands_over_to_the_waiters() -> None:
    calls = 0
    release = anyio.Event()

    async def fetch(keys: list[Key]) -> set[Key]:
        nonlocal calls
        calls += 1
        if calls == 1:
            await release.wait()  # the first leader is cancelled while here
        return set(keys)

    coalescer = Coalescer(fetch)
    result: list[bool] = []
    leader_scope = anyio.CancelScope()

    async def leader() -> None:
        with leader_scope:
            await coalescer.ask(("j", "x"))

    async def follower() -> None:
        result.append(await coalescer.ask(("j", "x")))

    async with anyio.create_task_group() as tg:
        tg.start_soon(leader)
        await anyio.sleep(0.01)  # the leader is inside its first fetch now
        tg.start_soon(follower)
        await anyio.sleep(0.01)
        leader_scope.cancel()
    assert result == [True]
    assert calls == 2


async def test_store_lookups_use_one_query_for_many_askers(sqlite_url: str) -> None:
    from destilation import Accept, Attempt, Sample, TaskSeed

    store = SqlStore(sqlite_url)
    await store.open()
    try:
        await store.create_job("j", {}, 2)
        await store.add_tasks("j", [TaskSeed(0)])
        [task] = await store.claim("j", "me", 1, 60)
        sample = Sample("j", 0, {"q": 1}, "h0", "t", "1", "p", "m", 1)
        await store.commit("me", [Accept(task, Attempt(1, "p", "m", True), sample)])
        found: dict[str, bool] = {}

        async def ask(h: str) -> None:
            found[h] = await store.has_content_hash("j", h)

        async with anyio.create_task_group() as tg:
            for h in ("h0", "h1", "h2"):
                tg.start_soon(ask, h)
        assert found == {"h0": True, "h1": False, "h2": False}
        assert await store.has_content_hash("other", "h0") is False
    finally:
        await store.aclose()
