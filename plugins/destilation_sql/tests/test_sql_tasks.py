"""Tasks: idempotent planning, claiming with leases, heartbeats, release, listing, inspection."""

from __future__ import annotations

import pytest
from sql_helpers import JOB, accept, reject, retry, seeds, sql

from destilation import Issue, StoreError, TaskSeed, TaskState
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def _job(store: SqlStore, n: int = 5) -> None:
    await store.create_job(JOB, {}, n)
    await store.add_tasks(JOB, seeds(n))


def _expire(store: SqlStore, owner: str) -> None:
    sql(store, "UPDATE tasks SET lease_expires = lease_expires - 3600 WHERE lease_owner = :o", o=owner)


async def test_add_tasks_is_idempotent_and_raises_planned(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 10)
    await store.add_tasks(JOB, [TaskSeed(0, {"a": "x"}, {"col": [1, 2]}), TaskSeed(1)])
    # Index 0 again with other values: ignored. Index 4 is new and lifts `planned` to 5.
    await store.add_tasks(JOB, [TaskSeed(0, {"a": "changed"}), TaskSeed(4)])
    job = await store.get_job(JOB)
    assert job is not None
    assert job.planned == 5
    listed = await store.list_tasks(JOB)
    assert [t.index for t in listed] == [0, 1, 4]
    assert listed[0].seed == TaskSeed(0, {"a": "x"}, {"col": [1, 2]})
    assert listed[0].state is TaskState.PENDING

    # A lower batch never lowers `planned`; an empty one changes nothing.
    await store.add_tasks(JOB, [TaskSeed(2)])
    await store.add_tasks(JOB, [])
    job = await store.get_job(JOB)
    assert job is not None
    assert job.planned == 5


async def test_add_tasks_to_an_unknown_job_is_an_error(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="has no job 'nope'; create the job before adding tasks"):
        await store.add_tasks("nope", seeds(2))
    with pytest.raises(StoreError, match="has no job 'nope'"):
        await store.add_tasks("nope", [])


async def test_claim_leases_pending_tasks_in_index_order(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 5)
    await store.add_tasks(JOB, [TaskSeed(i, {"k": str(i)}) for i in (4, 2, 0, 3, 1)])
    first = await store.claim(JOB, "w1", 3, 60)
    assert [t.index for t in first] == [0, 1, 2]
    assert all(t.state is TaskState.RUNNING and t.lease_owner == "w1" for t in first)
    assert first[1].seed.axes == {"k": "1"}
    second = await store.claim(JOB, "w2", 10, 60)
    assert [t.index for t in second] == [3, 4]
    assert await store.claim(JOB, "w3", 10, 60) == []
    assert await store.claim(JOB, "w3", 0, 60) == []
    counts = await store.counts(JOB)
    assert counts[TaskState.RUNNING] == 5


async def test_an_expired_lease_returns_the_task_to_claimers(store: SqlStore) -> None:
    await _job(store, 3)
    await store.claim(JOB, "w1", 2, 60)
    await store.claim(JOB, "w1b", 1, 60)  # index 2, stays alive
    _expire(store, "w1")  # the worker died an hour ago
    taken = await store.claim(JOB, "w2", 10, 60)
    assert [(t.index, t.lease_owner) for t in taken] == [(0, "w2"), (1, "w2")]
    assert await store.claim(JOB, "w3", 10, 60) == []


async def test_claim_merges_pending_and_expired_tasks_by_index(store: SqlStore) -> None:
    await _job(store, 4)
    await store.claim(JOB, "dead", 2, -1)  # 0, 1 expired
    await store.release_all(JOB, "nobody")  # releasing another owner's tasks does nothing
    got = await store.claim(JOB, "w", 3, 60)
    assert [t.index for t in got] == [0, 1, 2]


async def test_a_claimed_task_keeps_its_attempts_and_reasons(store: SqlStore) -> None:
    await _job(store, 1)
    [task] = await store.claim(JOB, "w1", 1, -1)
    await store.commit("w1", [retry(task, 1), retry(task, 2)])
    [again] = await store.claim(JOB, "w2", 1, 60)
    assert again.attempts == 2
    assert again.reasons == ()


async def test_heartbeat_extends_only_the_owners_leases(store: SqlStore) -> None:
    await _job(store, 2)
    await store.claim(JOB, "w1", 1, 60)
    await store.claim(JOB, "w2", 1, 60)
    _expire(store, "w1")
    _expire(store, "w2")
    await store.heartbeat(JOB, "w1", 60)
    taken = await store.claim(JOB, "w3", 10, 60)
    assert [t.index for t in taken] == [1]  # w1's lease is alive again, w2's is not


async def test_release_all_returns_the_owners_tasks_to_pending(store: SqlStore) -> None:
    await _job(store, 3)
    await store.claim(JOB, "w1", 2, 60)
    await store.claim(JOB, "w2", 1, 60)
    await store.release_all(JOB, "w1")
    pending = await store.list_tasks(JOB, TaskState.PENDING)
    assert [(t.index, t.lease_owner) for t in pending] == [(0, None), (1, None)]
    assert [t.index for t in await store.list_tasks(JOB, TaskState.RUNNING)] == [2]


async def test_a_task_with_a_sample_is_never_claimed(store: SqlStore) -> None:
    await _job(store, 2)
    [t0] = await store.claim(JOB, "w1", 1, 60)
    await store.commit("w1", [accept(t0)])
    # Whatever its state says (here forced back to pending), the sample means the work is done.
    sql(store, "UPDATE tasks SET state = 'pending' WHERE idx = 0")
    assert [t.index for t in await store.claim(JOB, "w2", 10, 60)] == [1]


async def test_counts_name_every_state(store: SqlStore) -> None:
    empty = await store.counts(JOB)
    assert empty == dict.fromkeys(TaskState, 0)
    await _job(store, 5)
    a, b, c, _ = await store.claim(JOB, "w", 4, 60)
    await store.commit("w", [accept(a), reject(b, "schema")])
    assert await store.counts(JOB) == {
        TaskState.PENDING: 1,
        TaskState.RUNNING: 2,
        TaskState.ACCEPTED: 1,
        TaskState.REJECTED: 1,
    }
    del c


async def test_list_tasks_filters_and_pages_in_index_order(store: SqlStore) -> None:
    await _job(store, 6)
    await store.claim(JOB, "w", 2, 60)
    assert [t.index for t in await store.list_tasks(JOB, limit=3)] == [0, 1, 2]
    assert [t.index for t in await store.list_tasks(JOB, limit=3, offset=3)] == [3, 4, 5]
    assert [t.index for t in await store.list_tasks(JOB, TaskState.PENDING, limit=2, offset=1)] == [3, 4]
    assert [t.index for t in await store.list_tasks(JOB, TaskState.RUNNING)] == [0, 1]
    assert await store.list_tasks("other") == []


async def test_get_task_shows_attempts_in_order_and_the_sample(store: SqlStore) -> None:
    await _job(store, 2)
    assert await store.get_task(JOB, 99) is None
    t0, t1 = await store.claim(JOB, "w", 2, 60)
    await store.commit("w", [retry(t0, 1, error="HTTP 503"), retry(t0, 2)])
    await store.commit("w", [accept(t0, number=3), reject(t1, "truncated", "schema")])

    detail = await store.get_task(JOB, 0)
    assert detail is not None
    assert detail.task.state is TaskState.ACCEPTED
    assert detail.task.attempts == 3
    assert detail.task.lease_owner is None
    assert [a.number for a in detail.attempts] == [1, 2, 3]
    assert detail.attempts[0].error == "HTTP 503"
    assert detail.attempts[2].ok
    assert detail.sample is not None
    assert detail.sample.content_hash == "hash-0"
    assert detail.sample.seq is not None

    rejected = await store.get_task(JOB, 1)
    assert rejected is not None
    assert rejected.sample is None
    assert rejected.task.state is TaskState.REJECTED
    assert rejected.task.reasons == (Issue("truncated", "failed truncated"), Issue("schema", "failed schema"))
