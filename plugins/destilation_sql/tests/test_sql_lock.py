"""The runner lock: one destiler run per SQLite file; none on PostgreSQL or in memory."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import anyio
import pytest

from destilation import StoreError
from destilation_sql.lock import RunnerLock
from destilation_sql.store import SqlStore
from destilation_sql.urls import parse

pytestmark = pytest.mark.anyio


async def test_a_second_runner_on_the_same_file_is_refused_until_the_first_closes(sqlite_url: str) -> None:
    path = parse(sqlite_url).path
    first = SqlStore(sqlite_url)
    second = SqlStore(sqlite_url)
    await first.open()
    await second.open()
    try:
        await first.lock_runner("job", "runner-1")
        await first.lock_runner("job", "runner-1")  # holding it already: fine
        with pytest.raises(StoreError) as caught:
            await second.lock_runner("job", "runner-2")
        assert str(caught.value) == (
            f"{path} is in use by another destiler run (pid {os.getpid()}); "
            "wait for it to finish or pause it, then try again"
        )
        # Readers (a `destiler jobs` in another terminal) are not locked out.
        assert await second.list_jobs() == []
    finally:
        await first.aclose()
    await second.lock_runner("job", "runner-2")
    await second.aclose()


async def test_the_lock_file_sits_beside_the_database_and_names_the_holder(sqlite_url: str) -> None:
    path = parse(sqlite_url).path
    assert path is not None
    async with SqlStore(sqlite_url) as store:
        await store.open()
        await store.lock_runner("job", "me")
        assert await anyio.Path(f"{path}.lock").read_text() == f"{os.getpid()}\n"


def test_a_holder_that_has_not_written_its_pid_yet_is_reported_as_unknown(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    fd = os.open(f"{db}.lock", os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(StoreError, match=r"in use by another destiler run \(pid unknown\)"):
            RunnerLock(db).acquire()
    finally:
        os.close(fd)
    lock = RunnerLock(db)
    lock.acquire()
    assert lock.held
    lock.release()
    assert not lock.held


def test_a_lock_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "x.db"
    Path(f"{db}.lock").mkdir()
    with pytest.raises(StoreError, match=r"x.db: cannot open lock file .*x.db.lock: Is a directory$"):
        RunnerLock(db).acquire()


async def test_many_workers_share_a_postgresql_job(pg_url: str) -> None:
    first = SqlStore(pg_url)
    second = SqlStore(pg_url)
    await first.open()
    await second.open()
    try:
        await first.lock_runner("job", "w1")
        await second.lock_runner("job", "w2")
    finally:
        await first.aclose()
        await second.aclose()


async def test_taking_the_lock_returns_a_dead_runners_leases_to_pending(sqlite_url: str) -> None:
    from destilation import TaskSeed, TaskState

    dead = SqlStore(sqlite_url)
    await dead.open()
    await dead.create_job("job", {}, 3)
    await dead.create_job("other", {}, 1)
    await dead.add_tasks("job", [TaskSeed(i) for i in range(3)])
    await dead.add_tasks("other", [TaskSeed(0)])
    await dead.claim("job", "dead-runner", 2, 3600)
    await dead.claim("other", "dead-runner", 1, 3600)
    await dead.aclose()  # as a kill -9 would: the lock goes, the leases stay

    fresh = SqlStore(sqlite_url)
    await fresh.open()
    try:
        await fresh.lock_runner("job", "new-runner")
        assert (await fresh.counts("job"))[TaskState.PENDING] == 3
        assert (await fresh.counts("other"))[TaskState.RUNNING] == 1  # another job's leases are left alone
        claimed = await fresh.claim("job", "new-runner", 5, 60)
        assert [t.index for t in claimed] == [0, 1, 2]
    finally:
        await fresh.aclose()
