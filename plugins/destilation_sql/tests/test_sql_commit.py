"""commit(): one transaction per batch, fenced by lease owner, deduplicated by content hash."""

from __future__ import annotations

import pytest
from sql_helpers import JOB, accept, attempt, reject, release, retry, sample, seeds, sql

from destilation import Accept, AttemptTotals, CommitResult, Issue, Reject, StoreError, Task, TaskState
from destilation_sql import commit as committer
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def _claimed(store: SqlStore, n: int, owner: str = "w1", lease_s: float = 60) -> list[Task]:
    await store.create_job(JOB, {}, n)
    await store.add_tasks(JOB, seeds(n))
    return await store.claim(JOB, owner, n, lease_s)


def _expire_all(store: SqlStore) -> None:
    sql(store, "UPDATE tasks SET lease_expires = lease_expires - 3600")


async def test_accepts_finish_tasks_and_get_increasing_seqs(store: SqlStore) -> None:
    tasks = await _claimed(store, 3)
    results = await store.commit("w1", [accept(t) for t in tasks])
    assert all(r.applied and not r.duplicate for r in results)
    seqs = [r.seq for r in results]
    assert all(isinstance(s, int) for s in seqs)
    assert seqs == sorted(seqs)
    assert len(set(seqs)) == 3
    assert (await store.counts(JOB))[TaskState.ACCEPTED] == 3
    stored = await store.samples_after(JOB, 0, 10)
    assert [(s.task_index, s.seq) for s in stored] == [(0, seqs[0]), (1, seqs[1]), (2, seqs[2])]
    assert await store.commit("w1", []) == []


async def test_a_late_result_after_a_lease_takeover_is_dropped(store: SqlStore) -> None:
    tasks = await _claimed(store, 4)
    _expire_all(store)  # w1 stalled; w2 takes every task over
    taken = await store.claim(JOB, "w2", 4, 60)
    assert [t.lease_owner for t in taken] == ["w2"] * 4

    late = await store.commit("w1", [accept(tasks[0]), retry(tasks[1]), reject(tasks[2], "schema"), release(tasks[3])])
    assert late == [CommitResult(applied=False)] * 4
    assert await store.samples_after(JOB, 0, 10) == []
    for t in await store.list_tasks(JOB):
        assert (t.state, t.lease_owner, t.attempts) == (TaskState.RUNNING, "w2", 0)

    # The new owner's results go through.
    fresh = await store.commit("w2", [accept(taken[0])])
    assert fresh[0].applied
    assert fresh[0].seq is not None


async def test_transitions_of_tasks_never_claimed_are_not_applied(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 1)
    await store.add_tasks(JOB, seeds(1))
    [pending] = await store.list_tasks(JOB)
    assert await store.commit("w1", [accept(pending)]) == [CommitResult(applied=False)]
    assert (await store.counts(JOB))[TaskState.PENDING] == 1


async def test_a_duplicate_across_batches_keeps_the_task_running(store: SqlStore) -> None:
    t0, t1 = await _claimed(store, 2)
    await store.commit("w1", [accept(t0, "same")])
    [dup] = await store.commit("w1", [accept(t1, "same", number=1)])
    assert dup == CommitResult(applied=False, seq=None, duplicate=True)
    detail = await store.get_task(JOB, 1)
    assert detail is not None
    assert detail.task.state is TaskState.RUNNING
    assert detail.task.lease_owner == "w1"
    assert detail.task.attempts == 1  # the attempt counts
    assert len(detail.attempts) == 1  # and is recorded
    assert detail.sample is None
    # Still leased to w1, which can try again and succeed with new content.
    [ok] = await store.commit("w1", [accept(t1, "different", number=2)])
    assert ok.applied


async def test_a_duplicate_within_one_batch_loses_to_the_earlier_one(store: SqlStore) -> None:
    t0, t1, t2 = await _claimed(store, 3)
    results = await store.commit("w1", [accept(t0, "x"), accept(t1, "x"), accept(t2, "y")])
    assert [r.applied for r in results] == [True, False, True]
    assert results[1].duplicate
    assert [s.task_index for s in await store.samples_after(JOB, 0, 10)] == [0, 2]
    assert await store.has_content_hash(JOB, "x")


async def test_the_same_hash_in_two_jobs_is_not_a_duplicate(store: SqlStore) -> None:
    [a] = await _claimed(store, 1)
    await store.create_job("job-b", {}, 1)
    await store.add_tasks("job-b", seeds(1))
    [b] = await store.claim("job-b", "w1", 1, 60)
    results = await store.commit("w1", [accept(a, "h"), accept(b, "h")])
    assert [r.applied for r in results] == [True, True]


async def test_retry_bumps_attempts_and_records_each_attempt(store: SqlStore) -> None:
    [t] = await _claimed(store, 1)
    results = await store.commit("w1", [retry(t, 1, "timeout"), retry(t, 2)])
    assert results == [CommitResult(applied=True), CommitResult(applied=True)]
    detail = await store.get_task(JOB, 0)
    assert detail is not None
    assert detail.task.state is TaskState.RUNNING
    assert detail.task.attempts == 2
    assert [(a.number, a.ok, a.error) for a in detail.attempts] == [(1, False, "timeout"), (2, False, None)]


async def test_attempts_follow_the_attempt_number_when_it_runs_ahead(store: SqlStore) -> None:
    [t] = await _claimed(store, 1)
    await store.commit("w1", [retry(t, 4)])
    [again] = await store.list_tasks(JOB)
    assert again.attempts == 4


async def test_reject_keeps_reasons_and_ends_the_lease(store: SqlStore) -> None:
    t0, t1 = await _claimed(store, 2)
    reasons = (Issue("schema", "missing answer", "$.a", "add an answer"), Issue("lang", "not French"))
    results = await store.commit("w1", [Reject(t0, attempt(3, ok=False), reasons), reject(t1, number=None)])
    assert [r.applied for r in results] == [True, True]
    d0 = await store.get_task(JOB, 0)
    d1 = await store.get_task(JOB, 1)
    assert d0 is not None
    assert d1 is not None
    assert (d0.task.state, d0.task.lease_owner, d0.task.attempts) == (TaskState.REJECTED, None, 3)
    assert d0.task.reasons == reasons
    # Without an attempt nothing is recorded and the count stays.
    assert (d1.task.state, d1.task.attempts, d1.attempts) == (TaskState.REJECTED, 0, ())
    assert await store.claim(JOB, "w2", 10, 60) == []


async def test_release_returns_the_task_to_pending_with_its_attempts(store: SqlStore) -> None:
    [t] = await _claimed(store, 1)
    await store.commit("w1", [retry(t, 1), release(t)])
    [back] = await store.list_tasks(JOB)
    assert (back.state, back.lease_owner, back.attempts) == (TaskState.PENDING, None, 1)
    # Anything later in the same batch for that task is fenced: it is no longer running.
    [t] = await store.claim(JOB, "w1", 1, 60)
    results = await store.commit("w1", [release(t), accept(t)])
    assert results == [CommitResult(applied=True), CommitResult(applied=False)]


async def test_a_task_accepted_earlier_in_the_batch_fences_later_transitions(store: SqlStore) -> None:
    [t] = await _claimed(store, 1)
    results = await store.commit("w1", [retry(t, 1), accept(t, number=2), accept(t, "other", number=3)])
    assert [r.applied for r in results] == [True, True, False]
    assert not results[2].duplicate
    detail = await store.get_task(JOB, 0)
    assert detail is not None
    assert detail.task.attempts == 2
    assert [a.number for a in detail.attempts] == [1, 2, 3]  # the fenced attempt is still recorded


async def test_results_come_back_in_batch_order(store: SqlStore) -> None:
    tasks = await _claimed(store, 4)
    batch = [retry(tasks[3]), accept(tasks[1]), reject(tasks[0], "x"), accept(tasks[2])]
    results = await store.commit("w1", batch)
    assert [r.applied for r in results] == [True] * 4
    assert results[0].seq is None
    assert results[2].seq is None
    assert results[1].seq is not None
    assert results[3].seq is not None
    assert results[1].seq < results[3].seq


async def test_provider_stats_sum_every_attempt(store: SqlStore) -> None:
    t0, t1, t2 = await _claimed(store, 3)
    await store.commit(
        "w1",
        [
            retry(t0, 1, error="HTTP 429"),
            Accept(t0, attempt(2, provider="other"), sample(t0)),
            retry(t1, 1),
            accept(t2),
        ],
    )
    await store.commit("w1", [retry(t1, 2, error="HTTP 500"), retry(t1, 3)])
    stats = {s["provider"]: s for s in await store.provider_stats(JOB)}
    assert set(stats) == {"mock", "other"}
    mock = stats["mock"]
    assert mock["requests"] == 5
    assert mock["failures"] == 4
    assert mock["errors"] == 2
    assert mock["last_error"] == "HTTP 500"  # a later batch without errors keeps it
    assert mock["latency_s"] == pytest.approx(5 * 0.25)
    assert (mock["prompt_tokens"], mock["completion_tokens"], mock["reasoning_tokens"]) == (50, 100, 25)
    assert mock["cost"] == pytest.approx(0.005)
    assert stats["other"]["requests"] == 1
    assert stats["other"]["last_error"] is None
    assert await store.provider_stats("no-such-job") == []


async def test_attempt_totals_sum_every_provider_for_progress(store: SqlStore) -> None:
    assert await store.attempt_totals(JOB) == AttemptTotals()
    t0, t1, t2 = await _claimed(store, 3)
    await store.commit(
        "w1",
        [retry(t0, 1, error="HTTP 429"), Accept(t0, attempt(2, provider="other"), sample(t0)), retry(t1, 1)],
    )
    await store.commit("w1", [retry(t2, 1, error="timeout"), accept(t2, number=2)])
    totals = await store.attempt_totals(JOB)
    assert (totals.attempts, totals.provider_errors, totals.invalid) == (5, 2, 1)
    assert totals.cost == pytest.approx(0.005)
    assert await store.attempt_totals("no-such-job") == AttemptTotals()


async def test_a_sample_of_another_task_is_refused(store: SqlStore) -> None:
    t0, t1 = await _claimed(store, 2)
    wrong = Accept(t0, attempt(), sample(t1))
    with pytest.raises(StoreError, match=r"the sample of task job-a/0 names task job-a/1"):
        await store.commit("w1", [wrong])


async def test_content_that_is_not_json_fails_the_whole_batch(store: SqlStore) -> None:
    t0, t1 = await _claimed(store, 2)
    bad = Accept(t1, attempt(), sample(t1, content={"x": float("inf")}))
    with pytest.raises(StoreError, match=r"sample of task job-a/1: cannot be stored as JSON"):
        await store.commit("w1", [accept(t0), bad])
    assert (await store.counts(JOB))[TaskState.RUNNING] == 2
    assert await store.samples_after(JOB, 0, 10) == []


async def test_a_failing_statement_leaves_nothing_of_the_batch(store: SqlStore) -> None:
    tasks = await _claimed(store, 3)
    await store.commit("w1", [retry(tasks[0])])
    before = await store.provider_stats(JOB)
    # The last statement of a commit (the task update) fails for task 2.
    if store._target.dialect == "sqlite":
        sql(
            store,
            "CREATE TRIGGER boom BEFORE UPDATE OF state ON tasks WHEN NEW.idx = 2 AND NEW.state = 'accepted' "
            "BEGIN SELECT RAISE(ABORT, 'boom'); END",
        )
    else:
        sql(
            store,
            "CREATE FUNCTION boom() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
            "IF NEW.idx = 2 AND NEW.state = 'accepted' THEN RAISE EXCEPTION 'boom'; END IF; RETURN NEW; END $$",
        )
        sql(store, "CREATE TRIGGER boom BEFORE UPDATE ON tasks FOR EACH ROW EXECUTE FUNCTION boom()")

    with pytest.raises(StoreError, match="boom") as caught:
        await store.commit("w1", [accept(t) for t in tasks])
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith(store.url)

    assert await store.samples_after(JOB, 0, 10) == []
    assert await store.provider_stats(JOB) == before
    for t in await store.list_tasks(JOB):
        detail = await store.get_task(JOB, t.index)
        assert detail is not None
        assert (t.state, t.lease_owner) == (TaskState.RUNNING, "w1")
        assert len(detail.attempts) == (1 if t.index == 0 else 0)

    # Without the fault the very same batch goes through: nothing half-applied stands in the way.
    sql(store, "DROP TRIGGER boom" if store._target.dialect == "sqlite" else "DROP TRIGGER boom ON tasks")
    results = await store.commit("w1", [accept(t) for t in tasks])
    assert [r.applied for r in results] == [True, True, True]


async def test_a_conflict_the_precheck_missed_is_retried_in_a_new_transaction(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    t0, t1 = await _claimed(store, 2)
    await store.commit("w1", [accept(t0, "taken")])
    real = committer._stored_hashes
    calls: list[int] = []

    def blind_once(conn, hashes):  # type: ignore[no-untyped-def]
        # The first round does not see the stored hash, as if another writer committed it
        # between the check and the insert.
        calls.append(1)
        return set() if len(calls) == 1 else real(conn, hashes)

    monkeypatch.setattr(committer, "_stored_hashes", blind_once)
    [result] = await store.commit("w1", [accept(t1, "taken")])
    assert len(calls) == 2
    assert result == CommitResult(applied=False, duplicate=True)
    detail = await store.get_task(JOB, 1)
    assert detail is not None
    assert len(detail.attempts) == 1  # the rolled-back round left no attempt behind
    assert detail.task.state is TaskState.RUNNING


async def test_a_conflict_that_keeps_coming_back_is_an_error(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> None:
    t0, t1 = await _claimed(store, 2)
    await store.commit("w1", [accept(t0, "taken")])
    monkeypatch.setattr(committer, "_stored_hashes", lambda conn, hashes: set())
    with pytest.raises(StoreError, match="conflicted with concurrent writers 3 times"):
        await store.commit("w1", [accept(t1, "taken")])
    assert (await store.counts(JOB))[TaskState.ACCEPTED] == 1
