"""Deleting a job (every row of it, nothing of others) and opening without creating."""

from __future__ import annotations

import os
from pathlib import Path

import anyio
import pytest
from sql_helpers import accept, reject, retry, seeds, sql

from destilation import EXPORTER_ROLE, Event, JobRunning, JobState, Member, SinkCursor, StoreMissing
from destilation.testing.store_contract import health
from destilation_sql import schema
from destilation_sql.store import SqlStore
from destilation_sql.urls import parse

pytestmark = pytest.mark.anyio

JOB_TABLES = sorted(t.name for t in schema.metadata.sorted_tables if "job" in t.c)


async def _fill(store: SqlStore, job: str) -> None:
    """A job with a row in every table: tasks, attempts, samples, cursors, roles, events, statistics, health."""
    await store.create_job(job, {"name": job}, 3)
    await store.add_tasks(job, seeds(3))
    t0, t1, t2 = await store.claim(job, "w1", 3, 60)
    await store.commit("w1", [retry(t0, 1, error="HTTP 500"), accept(t1), reject(t2, "too_short")])
    await store.release_all(job, "w1")  # the runner ended: no live lease is left
    await store.set_cursor(job, "jsonl", SinkCursor(1, 100))
    await store.acquire_role(job, EXPORTER_ROLE, "w1", -1)  # a role whose holder is gone
    await store.add_events([Event("job_started", job), Event("provider_error", job, "HTTP 500", "warning")])
    await store.record_health([health(job, "mock", "w1")])
    await store.beat_member(Member(job, "w1", "host", 1, "worker", 1.0))


def _rows(store: SqlStore, job: str) -> dict[str, int]:
    counts = {t: sql(store, f"SELECT count(*) FROM {t} WHERE job = :job", job=job)[0][0] for t in JOB_TABLES}
    counts["jobs"] = sql(store, "SELECT count(*) FROM jobs WHERE name = :job", job=job)[0][0]
    return counts


async def test_delete_job_removes_every_row_of_the_job_and_nothing_else(store: SqlStore) -> None:
    assert {"tasks", "attempts", "samples", "sink_cursors", "events", "provider_stats", "provider_health"} <= set(
        JOB_TABLES
    )
    await _fill(store, "gone")
    await _fill(store, "kept")
    before = _rows(store, "kept")
    assert all(before.values()), before  # every table holds rows of both jobs
    assert all(_rows(store, "gone").values())
    assert await store.delete_job("gone") is True
    assert set(_rows(store, "gone").values()) == {0}
    assert _rows(store, "kept") == before
    assert [r.name for r in await store.list_jobs()] == ["kept"]
    assert await store.get_job("gone") is None
    assert await store.delete_job("gone") is False
    # The name is free again: a new job of that name starts from nothing.
    record = await store.create_job("gone", {"name": "gone"}, 5)
    assert (record.target, record.planned) == (5, 0)
    assert await store.get_cursor("gone", "jsonl") == SinkCursor()


@pytest.mark.parametrize("url", ["sqlite://", pytest.param("pg", marks=pytest.mark.postgres)], indirect=False)
async def test_unexpired_leases_show_a_live_runner_where_no_lock_can(url: str, request: pytest.FixtureRequest) -> None:
    # Without a runner lock (PostgreSQL, in-memory SQLite) only the leases tell a runner is alive.
    if url == "pg":
        url = str(request.getfixturevalue("pg_url"))
    async with SqlStore(url) as store:
        await store.open()
        await store.create_job("live", {}, 4)
        await store.add_tasks("live", seeds(4))
        await store.claim("live", "w1", 2, 60)
        with pytest.raises(JobRunning) as refused:
            await store.delete_job("live")
        message = str(refused.value)
        assert message.startswith("job 'live' is running: 2 of its tasks are leased by a runner whose heartbeat")
        assert "cancel it first, then delete it (if that runner died, its leases expire by " in message
        assert message.endswith(" UTC)")
        assert await store.get_job("live") is not None
        # Leases that ran out mean the runner died: the job goes.
        sql(store, "UPDATE tasks SET lease_expires = 0 WHERE job = 'live'")
        assert await store.delete_job("live") is True


async def test_on_sqlite_the_runner_lock_tells_a_live_runner_from_a_dead_one(sqlite_url: str) -> None:
    runner, other = SqlStore(sqlite_url), SqlStore(sqlite_url)
    await runner.open()
    await other.open()
    await runner.create_job("a", {}, 2)
    await runner.create_job("b", {}, 2)
    await runner.set_job_state("a", JobState.RUNNING)
    await runner.set_job_state("b", JobState.DONE)
    await runner.lock_runner("a", "w1")
    pid = os.getpid()
    with pytest.raises(JobRunning) as refused:
        await other.delete_job("a")
    assert str(refused.value) == (
        f"job 'a' is running (destiler pid {pid} holds the store's runner lock): cancel it first, then delete it"
    )
    with pytest.raises(JobRunning) as busy:
        await other.delete_job("b")
    assert str(busy.value) == (
        f"the store is in use by destiler pid {pid} (one run at a time per SQLite file), which may still be "
        "finishing job 'b': delete it once that run has ended"
    )
    assert await runner.delete_job("b") is True  # the runner itself may: it knows what it runs
    await runner.aclose()  # the runner died (its lock went with it) and left job a marked running
    await other.add_tasks("a", seeds(2))
    await other.claim("a", "dead", 2, 60)
    assert await other.delete_job("a") is True
    assert await other.list_jobs() == []
    # Deleting took the lock only for the while: a runner can start again.
    await other.lock_runner("c", "w2")
    await other.aclose()


async def test_open_without_create_makes_no_file_and_no_directory(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'destilation.db'}"
    store = SqlStore(url)
    with pytest.raises(StoreMissing) as missing:
        await store.open(create=False)
    assert str(missing.value) == f"{url} does not exist yet (`destiler run JOB.toml` creates it)"
    assert [p async for p in anyio.Path(tmp_path).iterdir()] == []
    async with SqlStore(url) as made:
        await made.open()
        await made.create_job("j", {}, 1)
    async with SqlStore(url) as reader:
        await reader.open(create=False)
        assert [r.name for r in await reader.list_jobs()] == ["j"]


async def test_open_without_create_finds_an_empty_database_missing(url: str) -> None:
    target = parse(url)
    if target.path is not None:  # an empty file, as a crash before the schema would leave
        target.path.parent.mkdir(parents=True)
        target.path.touch()
    store = SqlStore(url)
    with pytest.raises(StoreMissing) as missing:
        await store.open(create=False)
    assert str(missing.value) == f"{target.shown} holds no destilation store yet (`destiler run JOB.toml` creates it)"
    async with SqlStore(url) as made:
        await made.open()
        assert sql(made, "SELECT count(*) FROM meta")[0][0] == 1  # nothing was created before
