"""Members on SQL: an older database gains the table on open, and reaping holds with two reapers."""

from __future__ import annotations

import anyio
import pytest
from sqlalchemy import text

from destilation import Member, TaskSeed, TaskState
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_an_older_database_gains_the_members_table(url: str) -> None:
    first = SqlStore(url)
    await first.open()
    await first.create_job("job", {}, 1)
    engine = first._require()
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE members"))
    await first.aclose()
    store = SqlStore(url)
    await store.open()
    try:
        await store.beat_member(Member("job", "w", "h", 1, "worker", 1.0))
        assert [m.owner for m in await store.members("job")] == ["w"]
    finally:
        await store.aclose()


async def test_two_members_reaping_the_same_dead_one_free_its_tasks_once(url: str) -> None:
    stores = [SqlStore(url), SqlStore(url)]
    for store in stores:
        await store.open()
    try:
        await stores[0].create_job("job", {}, 4)
        await stores[0].add_tasks("job", [TaskSeed(i) for i in range(4)])
        await stores[0].beat_member(Member("job", "dead", "h", 1, "worker", 1.0))
        assert len(await stores[0].claim("job", "dead", 4, 3600)) == 4
        reaped: list[list[str]] = []

        async def reap(store: SqlStore) -> None:
            reaped.append(await store.reap_members("job", -1))

        async with anyio.create_task_group() as group:
            for store in stores:
                group.start_soon(reap, store)
        assert sorted(reaped) == [[], ["dead"]]  # one reaper took it; the other found nothing left
        assert (await stores[1].counts("job"))[TaskState.PENDING] == 4
    finally:
        for store in stores:
            await store.aclose()
