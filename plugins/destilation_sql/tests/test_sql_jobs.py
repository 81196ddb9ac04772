"""Jobs: create once, read, list, and state changes that stamp `finished_at`."""

from __future__ import annotations

import pytest

from destilation import JobState, StoreError
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_create_job_inserts_once_and_returns_the_stored_record(store: SqlStore) -> None:
    first = await store.create_job("alpha", {"template": "simple", "axes": {"lang": ["en", "fr"]}}, 100)
    assert first.name == "alpha"
    assert first.state is JobState.PENDING
    assert first.target == 100
    assert first.spec == {"template": "simple", "axes": {"lang": ["en", "fr"]}}
    assert first.planned == 0
    assert first.finished_at is None
    assert first.created_at == first.updated_at > 0

    again = await store.create_job("alpha", {"template": "other"}, 5)
    assert again == first  # unchanged: neither the spec nor the target is overwritten


async def test_get_job_and_list_jobs(store: SqlStore) -> None:
    assert await store.get_job("missing") is None
    assert await store.list_jobs() == []
    a = await store.create_job("a", {}, 1)
    b = await store.create_job("b", {}, 2)
    assert await store.get_job("b") == b
    assert [j.name for j in await store.list_jobs()] == [a.name, b.name]


async def test_set_job_state_stamps_finished_at_only_for_final_states(store: SqlStore) -> None:
    created = await store.create_job("j", {}, 10)
    await store.set_job_state("j", JobState.RUNNING)
    running = await store.get_job("j")
    assert running is not None
    assert running.state is JobState.RUNNING
    assert running.finished_at is None
    assert running.updated_at >= created.updated_at

    for final in (JobState.DONE, JobState.CANCELLED, JobState.FAILED):
        await store.set_job_state("j", final, f"{final} because")
        job = await store.get_job("j")
        assert job is not None
        assert job.state is final
        assert job.message == f"{final} because"
        assert job.finished_at is not None

    # Resuming clears the stamp and the old message.
    await store.set_job_state("j", JobState.PAUSED)
    paused = await store.get_job("j")
    assert paused is not None
    assert (paused.state, paused.finished_at, paused.message) == (JobState.PAUSED, None, None)


async def test_set_job_state_of_an_unknown_job_is_an_error(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="has no job 'ghost'"):
        await store.set_job_state("ghost", JobState.DONE)


async def test_a_spec_that_is_not_json_is_refused_with_the_job_named(store: SqlStore) -> None:
    with pytest.raises(StoreError, match=r"spec of job bad: cannot be stored as JSON"):
        await store.create_job("bad", {"ratio": float("nan")}, 1)
    assert await store.get_job("bad") is None


async def test_raise_target_stores_the_new_spec_and_reopens_a_done_job(store: SqlStore) -> None:
    await store.create_job("grow", {"count": 10}, 10)
    await store.set_job_state("grow", JobState.DONE, "10 samples accepted")
    raised = await store.raise_target("grow", 30, {"count": 30})
    assert (raised.target, raised.spec, raised.state) == (30, {"count": 30}, JobState.PENDING)
    assert (raised.finished_at, raised.message) == (None, "target raised to 30")
    assert await store.get_job("grow") == raised


async def test_raise_target_never_lowers_it_and_leaves_an_unfinished_state(store: SqlStore) -> None:
    await store.create_job("j", {"count": 10}, 10)
    await store.set_job_state("j", JobState.PAUSED, "paused by user")
    lower = await store.raise_target("j", 5, {"count": 5})
    assert (lower.target, lower.spec, lower.state, lower.message) == (
        10,
        {"count": 5},
        JobState.PAUSED,
        "paused by user",
    )
    higher = await store.raise_target("j", 12, {"count": 12})
    assert (higher.target, higher.state) == (12, JobState.PAUSED)
    await store.set_job_state("j", JobState.DONE)
    same = await store.raise_target("j", 12, {"count": 12, "note": 1})
    assert (same.target, same.state, same.spec) == (12, JobState.DONE, {"count": 12, "note": 1})


async def test_raise_target_of_an_unknown_job_is_an_error(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="has no job 'ghost'"):
        await store.raise_target("ghost", 3, {})
