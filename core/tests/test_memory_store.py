"""The in-memory store keeps the StateStore contract, and what only a memory store has to say."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from destilation import Accept, JobRunning, JobState, StateStore, StoreError, TaskSeed, TaskState
from destilation.testing import MemoryStore, StoreContract
from destilation.testing.store_contract import attempt, job_with_tasks, sample


class TestMemoryStore(StoreContract):
    def make_store(self, tmp_path: Path) -> MemoryStore:
        return MemoryStore()


class WithoutHealth(MemoryStore):
    """A store written before provider health: the port's defaults for health, event queries and members."""

    record_health = StateStore.record_health
    provider_health = StateStore.provider_health
    query_events = StateStore.query_events  # type: ignore[assignment]
    beat_member = StateStore.beat_member
    leave = StateStore.leave
    members = StateStore.members
    reap_members = StateStore.reap_members


class TestStoreWithoutHealth(StoreContract):
    """Such a store still keeps the rest of the contract; the health and event-query tests skip."""

    keeps_health = False
    numbers_events = False
    keeps_members = False

    def make_store(self, tmp_path: Path) -> MemoryStore:
        return WithoutHealth()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.anyio
async def test_one_runner_per_job_until_the_store_is_closed() -> None:
    store = MemoryStore()
    await store.open()
    await store.lock_runner("job", "a")
    await store.lock_runner("job", "a")  # the holder may ask again
    await store.lock_runner("other", "b")
    with pytest.raises(StoreError, match="job 'job' is being run by a; one runner per job"):
        await store.lock_runner("job", "b")
    await store.aclose()
    await store.lock_runner("job", "b")
    assert store.opened == 1


@pytest.mark.anyio
async def test_leases_run_on_the_injected_clock() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    await job_with_tasks(store, 1)
    assert len(await store.claim("job", "a", 1, 30)) == 1
    clock.now += 29
    assert await store.claim("job", "b", 1, 30) == []
    clock.now += 2
    (taken,) = await store.claim("job", "b", 1, 30)
    assert taken.lease_owner == "b"
    record = await store.get_job("job")
    assert record is not None and record.created_at == 1000.0


@pytest.mark.anyio
async def test_what_a_database_could_not_keep_is_refused() -> None:
    store = MemoryStore()
    await job_with_tasks(store, 1)
    (task,) = await store.claim("job", "a", 1, 30)
    unstorable = attrs.evolve(sample("job", 0), content={"x": {1, 2}})
    with pytest.raises(StoreError, match="sample of task job/0: cannot be stored as JSON"):
        await store.commit("a", [Accept(task, attempt(), unstorable)])
    with pytest.raises(StoreError, match="task job/1: cannot be stored as JSON"):
        await store.add_tasks("job", [TaskSeed(1, row={"x": float("inf")})])
    assert (await store.counts("job"))[TaskState.RUNNING] == 1


@pytest.mark.anyio
async def test_values_come_back_as_copies() -> None:
    store = MemoryStore()
    spec = {"axes": {"topic": ["a"]}}
    record = await store.create_job("job", spec, 1)
    spec["axes"]["topic"].append("b")
    record.spec["axes"]["topic"].append("c")
    again = await store.get_job("job")
    assert again is not None and again.spec == {"axes": {"topic": ["a"]}}
    await store.set_job_state("job", JobState.PAUSED, "by a test")
    assert (await store.list_events(limit=0)) == []


@pytest.mark.anyio
async def test_a_job_held_by_a_runner_or_leased_is_not_deleted() -> None:
    store = MemoryStore()
    await job_with_tasks(store, 1)
    await store.lock_runner("job", "runner")
    with pytest.raises(JobRunning, match="job 'job' is running \\(runner\\)"):
        await store.delete_job("job")
    await store.aclose()  # the runner is gone, but its lease is not
    await store.claim("job", "other", 1, 3600)
    with pytest.raises(JobRunning, match="leased tasks"):
        await store.delete_job("job")
    assert await store.get_job("job") is not None
