"""Many workers on one database: claims never overlap, duplicates never slip in, seq is commit order."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest
from sql_helpers import JOB, accept, seeds
from sqlalchemy import Engine, create_engine, text

from destilation import Task, TaskState
from destilation_sql.schema import PG_LOCK_CLASS
from destilation_sql.store import SqlStore
from destilation_sql.urls import parse

pytestmark = pytest.mark.anyio


async def _stores(url: str, n: int) -> list[SqlStore]:
    stores = [SqlStore(url) for _ in range(n)]
    for s in stores:
        await s.open()
    return stores


async def test_concurrent_claimers_never_get_the_same_task(url: str) -> None:
    total = 240
    stores = await _stores(url, 4)
    try:
        await stores[0].create_job(JOB, {}, total)
        await stores[0].add_tasks(JOB, seeds(total))
        got: dict[str, list[Task]] = {}
        arrived = 0
        all_in = anyio.Event()

        async def worker(store: SqlStore, owner: str) -> None:
            # Each store claims from its own worker thread and connection, at the same time.
            # Every claimer holds a batch before any takes a second, so they overlap for sure:
            # on SQLite one claimer could otherwise take everything while the others' busy
            # handlers sleep.
            nonlocal arrived
            got[owner] = []
            first = True
            while batch := await store.claim(JOB, owner, 7, 60):
                got[owner].extend(batch)
                if first:
                    first, arrived = False, arrived + 1
                    if arrived == len(stores):
                        all_in.set()
                    await all_in.wait()
                await anyio.lowlevel.checkpoint()

        async with anyio.create_task_group() as tg:
            for i, s in enumerate(stores):
                tg.start_soon(worker, s, f"w{i}")
        claimed = [t.index for tasks in got.values() for t in tasks]
        assert sorted(claimed) == list(range(total))  # each task exactly once
        assert all(got.values())  # every claimer had its share
        owners = {t.index: t.lease_owner for tasks in got.values() for t in tasks}
        for t in await stores[0].list_tasks(JOB, limit=total):
            assert t.lease_owner == owners[t.index]
    finally:
        for s in stores:
            await s.aclose()


async def test_concurrent_committers_never_store_a_content_hash_twice(url: str) -> None:
    total = 120
    stores = await _stores(url, 3)
    try:
        await stores[0].create_job(JOB, {}, total)
        await stores[0].add_tasks(JOB, seeds(total))
        claimed = [await s.claim(JOB, f"w{i}", total // 3, 60) for i, s in enumerate(stores)]
        # Every worker produces the same 30 contents: most accepts are duplicates of another's.
        results: list[bool] = []

        async def worker(store: SqlStore, owner: str, tasks: list[Task]) -> None:
            for start in range(0, len(tasks), 10):
                chunk = tasks[start : start + 10]
                out = await store.commit(owner, [accept(t, f"content-{t.index % 30}") for t in chunk])
                results.extend(r.applied for r in out)

        async with anyio.create_task_group() as tg:
            for i, (s, tasks) in enumerate(zip(stores, claimed, strict=True)):
                tg.start_soon(worker, s, f"w{i}", tasks)

        stored = await stores[0].samples_after(JOB, 0, total)
        hashes = [s.content_hash for s in stored]
        assert len(hashes) == len(set(hashes)) == 30
        assert sum(results) == 30
        counts = await stores[0].counts(JOB)
        assert counts[TaskState.ACCEPTED] == 30
        assert counts[TaskState.RUNNING] == total - 30
        seqs = [s.seq for s in stored]
        assert seqs == sorted(seqs)
    finally:
        for s in stores:
            await s.aclose()


async def test_postgresql_commits_of_one_job_queue_so_seq_is_commit_order(pg_url: str) -> None:
    # Sequence numbers are handed out at insert time, not at commit. If a commit that took seq
    # 11 could finish before the one holding seq 10, an exporter would read 11, move its cursor
    # past 10 and lose it. So commits of samples of one job take a lock in turn; here a
    # transaction holds it, and the store's commit must wait for it.
    store = SqlStore(pg_url)
    await store.open()
    other = create_engine(parse(pg_url).url)
    try:
        await store.create_job(JOB, {}, 1)
        await store.add_tasks(JOB, seeds(1))
        [task] = await store.claim(JOB, "w", 1, 60)
        done = anyio.Event()

        async def commit() -> None:
            await store.commit("w", [accept(task)])
            done.set()

        with other.connect() as holder, anyio.fail_after(60):
            holder.execute(text("SELECT pg_advisory_xact_lock(:a, hashtext(:j))"), {"a": PG_LOCK_CLASS, "j": JOB})
            async with anyio.create_task_group() as tg:
                tg.start_soon(commit)
                # Wait until the store's commit is queued behind the held lock.
                while not _waiting_for_advisory_lock(other):
                    await anyio.sleep(0.01)
                assert not done.is_set()
                assert await _samples_seen_by(other) == 0
                holder.rollback()  # the other transaction ends; the commit goes on
            assert done.is_set()
        assert await _samples_seen_by(other) == 1
    finally:
        other.dispose()
        await store.aclose()


def _waiting_for_advisory_lock(engine: Engine) -> bool:
    with engine.connect() as conn:
        query = "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        return bool(conn.execute(text(query)).scalar())


async def _samples_seen_by(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM samples")).scalar() or 0)
