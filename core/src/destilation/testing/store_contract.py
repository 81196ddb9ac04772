"""`StoreContract`: what every StateStore must do, as tests a store's own suite inherits.

Subclass it in a test module and say how to build the store (not opened)::

    class TestMyStore(StoreContract):
        def make_store(self, tmp_path):
            return MyStore(f"mydb:///{tmp_path}/state")

Each test opens a fresh store, runs one scenario and closes it. The rules are the engine's
exactly-once guarantees: a commit is fenced by lease owner and state, a sample's content hash
is stored once per job, an expired lease can be taken over, samples come back in `seq` order.
A store that lets many runners share a job (PostgreSQL) sets ``single_runner = False``; one
that keeps no provider health (the port's no-op default) sets ``keeps_health = False``, and one
that does not number its events (`query_events` returns None) ``numbers_events = False``, and
one that keeps no members (the port's no-op defaults) ``keeps_members = False``: their tests
are then skipped, visibly (the members tests check the no-op defaults instead).
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
import attrs

from destilation.domain import (
    Attempt,
    AttemptPayload,
    Circuit,
    Event,
    Issue,
    JobState,
    Member,
    Message,
    ProviderHealth,
    Sample,
    SinkCursor,
    TaskSeed,
    TaskState,
)
from destilation.interfaces import (
    EXPORTER_ROLE,
    PLANNER_ROLE,
    Accept,
    Reject,
    Release,
    Retry,
    StateStore,
    StoreError,
    Transition,
)

Scenario = Callable[[StateStore], Awaitable[None]]


def sample(job: str, index: int, content_hash: str | None = None) -> Sample:
    """A sample of task `index` whose content (and hash, unless given) is its own."""
    return Sample(
        job=job,
        task_index=index,
        content={"answer": f"sample {index}"},
        content_hash=content_hash or f"hash-{index}",
        template_id="t",
        template_version="1",
        provider="p",
        model="m",
        attempts=1,
    )


def health(job: str, provider: str, owner: str, **fields: object) -> ProviderHealth:
    """A health row with a little of everything, `fields` overriding."""
    values: dict[str, object] = {
        "model": "m",
        "requests": 10,
        "successes": 8,
        "retries": 1,
        "failovers": 1,
        "errors": {"rate_limited": 1, "server": 1},
        "latency_p50_s": 0.5,
        "latency_p95_s": 2.0,
        "concurrency_limit": 4,
        "in_flight": 2,
        "prompt_tokens": 100,
        "completion_tokens": 200,
        "cost": 0.25,
        "details": {"structured_output": "json_object"},
        "updated_at": 1000.0,
    }
    values.update(fields)
    return ProviderHealth(job, provider, owner, **values)  # type: ignore[arg-type]


def attempt(number: int = 1, ok: bool = True) -> Attempt:
    return Attempt(number=number, provider="p", model="m", ok=ok)


async def raises(error: type[Exception], work: Awaitable[object]) -> str:
    """Await `work`, which must raise `error`; its message, for the caller to check."""
    try:
        await work
    except error as exc:
        return str(exc)
    raise AssertionError(f"expected {error.__name__}")


async def job_with_tasks(store: StateStore, n: int, job: str = "job") -> None:
    await store.create_job(job, {"name": job}, n)
    await store.add_tasks(job, [TaskSeed(i, {"topic": f"t{i}"}) for i in range(n)])


class StoreContract(abc.ABC):
    """The StateStore contract as test methods; subclasses provide `make_store`."""

    single_runner = True
    """Whether `lock_runner` admits one runner per job and returns dead runners' leases at once."""

    keeps_health = True
    """Whether `record_health` keeps rows for `provider_health` to read back."""

    numbers_events = True
    """Whether `query_events` numbers events (rather than returning None)."""

    keeps_members = True
    """Whether `beat_member` keeps member rows (rather than the port's no-op default)."""

    @abc.abstractmethod
    def make_store(self, tmp_path: Path) -> StateStore:
        """Build the store under test (not opened); each test opens and closes its own."""

    def scenario(self, tmp_path: Path, body: Scenario) -> None:
        async def main() -> None:
            store = self.make_store(tmp_path)
            async with store:
                await store.open()
                await store.open()  # opening twice is harmless
                await body(store)

        anyio.run(main)

    def test_a_job_is_created_once_and_keeps_its_first_spec(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            assert await store.get_job("job") is None
            first = await store.create_job("job", {"count": 2, "nested": {"a": [1, 2]}}, 2)
            again = await store.create_job("job", {"count": 9}, 9)
            assert (again.spec, again.target) == ({"count": 2, "nested": {"a": [1, 2]}}, 2)
            assert again.state is JobState.PENDING
            assert first.planned == 0 and first.finished_at is None
            await store.create_job("later", {}, 1)
            assert [r.name for r in await store.list_jobs()] == ["job", "later"]
            refused = await raises(StoreError, store.create_job("bad", {"x": float("nan")}, 1))
            assert "cannot be stored as JSON" in refused

        self.scenario(tmp_path, body)

    def test_job_states_stamp_finished_at_only_when_finished(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            await store.set_job_state("job", JobState.DONE, "1 samples accepted")
            done = await store.get_job("job")
            assert done is not None and done.state is JobState.DONE and done.finished_at is not None
            assert done.message == "1 samples accepted"
            await store.set_job_state("job", JobState.RUNNING)
            running = await store.get_job("job")
            assert running is not None and running.finished_at is None and running.message is None
            assert "no job 'ghost'" in await raises(StoreError, store.set_job_state("ghost", JobState.PAUSED))

        self.scenario(tmp_path, body)

    def test_tasks_are_added_once_and_raise_planned(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 5)
            await store.add_tasks("job", [TaskSeed(3, {"topic": "changed"}), TaskSeed(6, row={"q": "x"})])
            await store.add_tasks("job", [])
            record = await store.get_job("job")
            assert record is not None and record.planned == 7
            counts = await store.counts("job")
            assert counts == {TaskState.PENDING: 6, TaskState.RUNNING: 0, TaskState.ACCEPTED: 0, TaskState.REJECTED: 0}
            listed = await store.list_tasks("job")
            assert [t.index for t in listed] == [0, 1, 2, 3, 4, 6]
            assert listed[3].seed.axes == {"topic": "t3"}  # an existing task is left as it was
            assert listed[5].seed.row == {"q": "x"}
            assert [t.index for t in await store.list_tasks("job", limit=2, offset=1)] == [1, 2]
            assert "no job 'ghost'" in await raises(StoreError, store.add_tasks("ghost", [TaskSeed(0)]))
            assert "no job 'ghost'" in await raises(StoreError, store.add_tasks("ghost", []))

        self.scenario(tmp_path, body)

    def test_claims_lease_pending_tasks_in_index_order(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 5)
            first = await store.claim("job", "a", 3, 60)
            assert [(t.index, t.state, t.lease_owner) for t in first] == [(i, TaskState.RUNNING, "a") for i in range(3)]
            assert [t.index for t in await store.claim("job", "b", 10, 60)] == [3, 4]
            assert await store.claim("job", "c", 10, 60) == []
            assert await store.claim("job", "c", 0, 60) == []
            running = await store.list_tasks("job", TaskState.RUNNING)
            assert [t.lease_owner for t in running] == ["a", "a", "a", "b", "b"]
            assert await store.get_task("job", 99) is None

        self.scenario(tmp_path, body)

    def test_a_commit_is_fenced_by_lease_owner(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 2)
            (task,) = await store.claim("job", "a", 1, 60)
            accept = Accept(task, attempt(), sample("job", 0))
            assert [r.applied for r in await store.commit("b", [accept])] == [False]  # not b's lease
            (won,) = await store.commit("a", [accept])
            assert won.applied and won.seq is not None and not won.duplicate
            assert [r.applied for r in await store.commit("a", [accept])] == [False]  # already finished
            assert await store.commit("a", []) == []
            detail = await store.get_task("job", 0)
            assert detail is not None and detail.task.state is TaskState.ACCEPTED
            assert detail.sample is not None and detail.sample.seq == won.seq
            assert detail.sample.content == {"answer": "sample 0"}
            assert len(detail.attempts) == 3, "every attempt is recorded, the fenced ones too"
            assert (await store.counts("job"))[TaskState.ACCEPTED] == 1
            assert await store.claim("job", "c", 10, 60) != [] and await store.claim("job", "c", 10, 60) == []

        self.scenario(tmp_path, body)

    def test_an_expired_lease_is_taken_over_and_the_first_owner_is_fenced(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 2)
            (task,) = await store.claim("job", "a", 1, -1)  # a lease that has already run out
            (taken,) = await store.claim("job", "b", 1, 60)
            assert (taken.index, taken.lease_owner) == (task.index, "b")
            late = await store.commit("a", [Accept(task, attempt(), sample("job", 0))])
            assert [r.applied for r in late] == [False]
            assert [r.applied for r in await store.commit("b", [Accept(taken, attempt(), sample("job", 0))])] == [True]

            (kept,) = await store.claim("job", "a", 1, -1)
            await store.heartbeat("job", "a", 3600)  # renewed: nobody else may take it now
            assert kept.index == 1 and await store.claim("job", "b", 1, 60) == []

        self.scenario(tmp_path, body)

    def test_duplicate_content_is_not_stored_and_its_task_stays_leased(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 3)
            t0, t1, t2 = await store.claim("job", "a", 3, 60)
            results = await store.commit(
                "a", [Accept(t0, attempt(), sample("job", 0, "same")), Accept(t1, attempt(), sample("job", 1, "same"))]
            )
            assert [(r.applied, r.duplicate) for r in results] == [(True, False), (False, True)]
            assert await store.has_content_hash("job", "same") and not await store.has_content_hash("job", "other")
            assert not await store.has_content_hash("other-job", "same")
            again = await store.commit("a", [Accept(t2, attempt(), sample("job", 2, "same"))])
            assert [(r.applied, r.duplicate) for r in again] == [(False, True)]  # against the stored one too
            still = await store.get_task("job", 1)
            assert still is not None and (still.task.state, still.task.lease_owner) == (TaskState.RUNNING, "a")
            # Still leased, so it can be retried and, at last, rejected with its reasons.
            reasons = (Issue("duplicate", "seen before"),)
            tried = await store.commit("a", [Retry(t1, attempt(2, False)), Reject(t1, attempt(3, False), reasons)])
            assert [r.applied for r in tried] == [True, True]
            rejected = await store.get_task("job", 1)
            assert rejected is not None and rejected.task.state is TaskState.REJECTED
            assert rejected.task.reasons == reasons and rejected.task.attempts == 3 and rejected.sample is None
            assert rejected.task.lease_owner is None

        self.scenario(tmp_path, body)

    def test_a_release_returns_a_task_and_keeps_its_attempts(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 3)
            t0, _, _ = await store.claim("job", "a", 3, 60)
            await store.commit("a", [Retry(t0, attempt(1, ok=False)), Release(t0)])
            released = await store.get_task("job", 0)
            assert released is not None and released.task.state is TaskState.PENDING
            assert (released.task.attempts, released.task.lease_owner) == (1, None)
            await store.release_all("job", "someone-else")
            assert (await store.counts("job"))[TaskState.RUNNING] == 2
            await store.release_all("job", "a")
            assert (await store.counts("job"))[TaskState.PENDING] == 3
            (again,) = await store.claim("job", "b", 1, 60)
            assert (again.index, again.attempts) == (0, 1)

        self.scenario(tmp_path, body)

    def test_a_sample_must_belong_to_the_task_it_finishes(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 2)
            t0, t1 = await store.claim("job", "a", 2, 60)
            batch: list[Transition] = [Retry(t0, attempt(1, ok=False)), Accept(t1, attempt(), sample("job", 0))]
            assert "must belong to the task" in await raises(StoreError, store.commit("a", batch))
            detail = await store.get_task("job", 0)
            assert detail is not None and detail.task.attempts == 0, "nothing of the batch was applied"

        self.scenario(tmp_path, body)

    def test_samples_come_back_in_commit_order(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 3)
            await job_with_tasks(store, 1, "other")
            tasks = {t.index: t for t in await store.claim("job", "a", 3, 60)}
            (other,) = await store.claim("other", "a", 1, 60)
            seqs: list[int] = []
            for index in (2, 0, 1):
                (result,) = await store.commit("a", [Accept(tasks[index], attempt(), sample("job", index))])
                assert result.seq is not None
                seqs.append(result.seq)
                await store.commit("a", [Accept(other, attempt(), sample("other", 0))])
            assert seqs == sorted(seqs) and len(set(seqs)) == 3
            after = await store.samples_after("job", 0, 10)
            assert [(s.task_index, s.seq) for s in after] == list(zip((2, 0, 1), seqs, strict=True))
            assert [s.task_index for s in await store.samples_after("job", seqs[0], 1)] == [0]
            assert await store.samples_after("job", seqs[-1], 10) == []

        self.scenario(tmp_path, body)

    def test_attempt_payloads_and_sample_lineage_come_back_as_committed(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 1)
            (task,) = await store.claim("job", "a", 1, 60)
            issue = Issue("near_duplicate", "too similar to task 3", hint="take a different angle")
            prompt = (Message("system", "be brief"), Message("user", "write about t0"))
            failed = attrs.evolve(
                attempt(1, False), issues=(issue,), payload=AttemptPayload(prompt, '{"a": "copy"}', "hm")
            )
            retried = (*prompt, Message("user", f"rejected: {issue.as_feedback()}"))
            accepted = attrs.evolve(attempt(2), payload=AttemptPayload(retried, '{"a": 0}', None, (issue,)))
            lineage = attrs.evolve(
                sample("job", 0), mode="simple", latency_s=0.5, seed=task.seed, messages=retried, attempts=2
            )
            await store.commit("a", [Retry(task, failed), Accept(task, accepted, lineage)])
            detail = await store.get_task("job", 0)
            assert detail is not None and detail.attempts == (failed, accepted)
            assert detail.sample is not None and attrs.evolve(detail.sample, seq=None) == lineage
            (read,) = await store.samples_after("job", 0, 10)
            assert read.record()["meta"]["messages"][-1]["content"].startswith("rejected: [near_duplicate]")
            assert read.record()["meta"]["input"] == {"axes": {"topic": "t0"}, "row": None}

        self.scenario(tmp_path, body)

    def test_cursors_start_at_zero_and_are_kept_per_sink(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            assert await store.get_cursor("job", "jsonl") == SinkCursor()
            await store.set_cursor("job", "jsonl", SinkCursor(3, 120))
            await store.set_cursor("job", "jsonl", SinkCursor(4, 160))
            assert await store.get_cursor("job", "jsonl") == SinkCursor(4, 160)
            assert await store.get_cursor("job", "other") == SinkCursor()

        self.scenario(tmp_path, body)

    def test_events_come_back_newest_last(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("a", {}, 1)
            await store.create_job("b", {}, 1)
            await store.add_events([Event("one", "a"), Event("two", "b", data={"n": 2}), Event("three", "a", at=5.0)])
            await store.add_events([])
            assert [e.kind for e in await store.list_events()] == ["one", "two", "three"]
            assert [e.kind for e in await store.list_events("a", limit=1)] == ["three"]
            one, two = (await store.list_events(limit=3))[:2]
            assert one.at > 0 and two.data == {"n": 2}
            assert (await store.list_events("a"))[-1].at == 5.0

        self.scenario(tmp_path, body)

    def test_the_runner_lock_returns_a_dead_runners_tasks(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 2)
            await store.claim("job", "dead-runner", 2, 3600)
            await store.acquire_role("job", EXPORTER_ROLE, "dead-runner", 3600)
            await store.lock_runner("job", "new-runner")
            running = (await store.counts("job"))[TaskState.RUNNING]
            assert running == (0 if self.single_runner else 2)
            # ...and frees the roles it held, so the new runner need not wait for their leases.
            role = await store.acquire_role("job", EXPORTER_ROLE, "new-runner", 3600)
            assert role.held_by("new-runner") is self.single_runner

        self.scenario(tmp_path, body)

    def test_a_done_job_whose_target_rises_is_pending_again(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("job", {"count": 2}, 2)
            await store.set_job_state("job", JobState.DONE, "2 samples accepted")
            raised = await store.raise_target("job", 5, {"count": 5})
            assert (raised.target, raised.state, raised.spec) == (5, JobState.PENDING, {"count": 5})
            assert raised.finished_at is None
            lower = await store.raise_target("job", 3, {"count": 3})
            assert (lower.target, lower.spec) == (5, {"count": 3})  # the target never goes down
            assert "no job" in await raises(StoreError, store.raise_target("nope", 9, {}))

        self.scenario(tmp_path, body)

    def test_a_role_has_one_holder_and_its_fence_grows_with_each_holder(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            first = await store.acquire_role("job", EXPORTER_ROLE, "a", 3600)
            assert first.held_by("a")
            again = await store.acquire_role("job", EXPORTER_ROLE, "a", 3600)
            assert again.fence == first.fence  # extended, not taken anew
            other = await store.acquire_role("job", EXPORTER_ROLE, "b", 3600)
            assert (other.owner, other.fence) == ("a", first.fence)
            assert await store.renew_role("job", EXPORTER_ROLE, "a", first.fence, 3600)
            assert not await store.renew_role("job", EXPORTER_ROLE, "b", first.fence, 3600)
            assert await store.set_cursor("job", "jsonl", SinkCursor(1, 10, "d1"), fence=first.fence)
            await store.release_role("job", EXPORTER_ROLE, "b", first.fence)  # not b's: nothing changes
            await store.release_role("job", EXPORTER_ROLE, "a", first.fence)
            assert not await store.renew_role("job", EXPORTER_ROLE, "a", first.fence, 3600)
            # A released role takes no fenced write, even under its last fence.
            assert not await store.set_cursor("job", "jsonl", SinkCursor(2, 20, "d2"), fence=first.fence)
            taken = await store.acquire_role("job", EXPORTER_ROLE, "b", 3600)
            assert taken.held_by("b") and taken.fence > first.fence
            assert not await store.set_cursor("job", "jsonl", SinkCursor(2, 20, "d2"), fence=first.fence)
            assert await store.get_cursor("job", "jsonl") == SinkCursor(1, 10, "d1")

        self.scenario(tmp_path, body)

    def test_an_expired_role_is_taken_over(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            first = await store.acquire_role("job", EXPORTER_ROLE, "a", -1)  # expired at once
            taken = await store.acquire_role("job", EXPORTER_ROLE, "b", 3600)
            assert taken.held_by("b") and taken.fence == first.fence + 1
            assert not await store.set_cursor("job", "jsonl", SinkCursor(1, 10), fence=first.fence)

        self.scenario(tmp_path, body)

    # --- membership ----------------------------------------------------------------------------

    def test_members_register_beat_and_leave(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 1, "a")
            await job_with_tasks(store, 1, "b")
            await store.beat_member(Member("b", "w2", "host2", 20, "worker", 5.0, in_flight=1))
            await store.beat_member(Member("a", "w1", "host1", 10, "runner", 1.0))
            await store.beat_member(Member("a", "w1", "host1", 10, "runner", 99.0, in_flight=3, rate=2.5))
            if not self.keeps_members:
                assert await store.members() == []
                return
            found = await store.members()
            assert [(m.job, m.owner) for m in found] == [("a", "w1"), ("b", "w2")]
            first = found[0]
            # A beat refreshes what changes and keeps when the member started.
            assert (first.host, first.pid, first.kind, first.started_at) == ("host1", 10, "runner", 1.0)
            assert (first.in_flight, first.rate) == (3, 2.5) and first.heartbeat_at > 0
            assert [m.owner for m in await store.members("b")] == ["w2"]
            await store.leave("a", "w1")
            await store.leave("a", "nobody")
            assert [m.owner for m in await store.members()] == ["w2"]
            assert await store.delete_job("b")
            assert await store.members() == []

        self.scenario(tmp_path, body)

    def test_a_silent_member_is_reaped_and_its_tasks_and_roles_freed(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 3)
            await job_with_tasks(store, 1, "other")
            for owner in ("dead", "live"):
                await store.beat_member(Member("job", owner, "h", 1, "worker", 1.0))
            await store.beat_member(Member("other", "dead", "h", 1, "worker", 1.0))
            held = await store.claim("job", "dead", 2, 3600)
            await store.claim("job", "live", 1, 3600)
            (elsewhere,) = await store.claim("other", "dead", 1, 3600)
            role = await store.acquire_role("job", PLANNER_ROLE, "dead", 3600)
            assert await store.reap_members("job", 3600) == []  # all beat just now
            if not self.keeps_members:
                assert await store.reap_members("job", -1) == []
                return
            # A timeout of -1 s: a heartbeat of now is older than that.
            reaped = await store.reap_members("job", -1)
            assert reaped == ["dead", "live"]
            assert await store.members("job") == []
            assert [m.owner for m in await store.members("other")] == ["dead"]  # another job's row stays
            again = await store.claim("job", "new", 3, 3600)
            assert {t.index for t in again} >= {t.index for t in held}
            taken = await store.acquire_role("job", PLANNER_ROLE, "new", 3600)
            assert taken.held_by("new") and taken.fence > role.fence
            # The other job's lease is untouched: its member was not reaped there.
            assert await store.claim("other", "new", 1, 3600) == []
            assert elsewhere.index == 0

        self.scenario(tmp_path, body)

    def test_deleting_a_job_leaves_nothing_of_it_and_other_jobs_untouched(self, tmp_path: Path) -> None:
        async def body(store: StateStore) -> None:
            await job_with_tasks(store, 2, "gone")
            await job_with_tasks(store, 1, "kept")
            (task,) = await store.claim("gone", "o", 1, 3600)
            await store.commit("o", [Accept(task, attempt(), sample("gone", task.index))])
            await store.set_cursor("gone", "jsonl", SinkCursor(1, 10))
            await store.acquire_role("gone", EXPORTER_ROLE, "o", -1)
            await store.add_events([Event("one", "gone"), Event("two", "kept")])
            await store.record_health([health("gone", "p", "o"), health("kept", "p", "o")])
            assert await store.delete_job("gone")
            assert await store.provider_health("gone") == []
            assert len(await store.provider_health("kept")) == (1 if self.keeps_health else 0)
            assert await store.get_job("gone") is None
            assert await store.samples_after("gone", 0, 10) == []
            assert await store.get_cursor("gone", "jsonl") == SinkCursor()
            assert [e.kind for e in await store.list_events()] == ["two"]
            assert (await store.counts("gone"))[TaskState.PENDING] == 0
            assert (await store.counts("kept"))[TaskState.PENDING] == 1
            assert not await store.delete_job("gone")

        self.scenario(tmp_path, body)

    # --- provider health and event queries ---------------------------------------------------

    def _needs(self, feature: bool, what: str) -> None:
        if not feature:
            import pytest  # only the suites that run these tests have it

            pytest.skip(f"this store {what}")

    def test_health_rows_round_trip_and_an_upsert_replaces_the_row(self, tmp_path: Path) -> None:
        self._needs(self.keeps_health, "keeps no provider health")

        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            assert await store.provider_health("job") == []
            first = health("job", "p", "o", circuit=Circuit.OPEN, held_until=2000.0, last_error="HTTP 500")
            await store.record_health([first])
            assert await store.provider_health("job") == [first]
            later = health("job", "p", "o", requests=30, errors={"timeout": 2}, details={}, updated_at=1001.0)
            await store.record_health([later])
            assert await store.provider_health("job") == [later]
            await store.record_health([])
            # A row recorded without a time gets the time it was stored.
            await store.record_health([health("job", "p", "o", updated_at=0.0)])
            (stamped,) = await store.provider_health("job")
            assert stamped.updated_at > 0

        self.scenario(tmp_path, body)

    def test_health_rows_are_kept_per_owner_provider_and_job(self, tmp_path: Path) -> None:
        self._needs(self.keeps_health, "keeps no provider health")

        async def body(store: StateStore) -> None:
            for job in ("job", "other"):
                await store.create_job(job, {}, 1)
            rows = [health("job", "p", "a"), health("job", "p", "b", requests=1), health("job", "q", "a")]
            await store.record_health([*rows, health("other", "p", "a", requests=7)])
            found = await store.provider_health("job")
            assert sorted(found, key=lambda r: (r.provider, r.owner)) == rows
            assert [r.requests for r in await store.provider_health("other")] == [7]
            assert await store.provider_health("missing") == []

        self.scenario(tmp_path, body)

    def test_a_health_rows_last_error_loses_its_credentials(self, tmp_path: Path) -> None:
        self._needs(self.keeps_health, "keeps no provider health")

        async def body(store: StateStore) -> None:
            await store.create_job("job", {}, 1)
            key = "sk-or-v1-0123456789abcdef0123"
            row = health("job", "p", "o", last_error=f"401 for Authorization: Bearer {key}", details={"api_key": key})
            await store.record_health([row])
            (stored,) = await store.provider_health("job")
            assert stored.last_error is not None and stored.last_error.startswith("401 for Authorization")
            assert key not in stored.last_error and key not in str(stored.details)

        self.scenario(tmp_path, body)

    def test_event_queries_filter_and_page_after_an_id(self, tmp_path: Path) -> None:
        self._needs(self.numbers_events, "does not number its events")

        async def body(store: StateStore) -> None:
            for job in ("job", "other"):
                await store.create_job(job, {}, 1)
            await store.add_events(
                [
                    Event("started", "job"),
                    Event("slow", "job", severity="warning", provider="p"),
                    Event("noise", "other", severity="error", provider="p"),
                    Event("failed", "job", severity="error", provider="q"),
                    Event("done", "job", provider="p"),
                ]
            )
            logged = await store.query_events("job")
            assert logged is not None
            assert [e.event.kind for e in logged] == ["started", "slow", "failed", "done"]
            ids = [e.id for e in logged]
            assert ids == sorted(ids) and len(set(ids)) == 4
            newest = await store.query_events("job", limit=2)
            assert newest is not None and [e.event.kind for e in newest] == ["failed", "done"]
            loud = await store.query_events("job", severities=["warning", "error"])
            assert loud is not None and [e.event.kind for e in loud] == ["slow", "failed"]
            of_p = await store.query_events("job", provider="p")
            assert of_p is not None and [e.event.kind for e in of_p] == ["slow", "done"]
            # Paging after an id: the oldest first, `limit` at a time, and nothing after the last.
            page = await store.query_events("job", after=ids[0], limit=2)
            assert page is not None and [e.event.kind for e in page] == ["slow", "failed"]
            rest = await store.query_events("job", after=page[-1].id, limit=2)
            assert rest is not None and [e.event.kind for e in rest] == ["done"]
            assert await store.query_events("job", after=ids[-1]) == []
            assert await store.query_events("job", limit=0) == []
            both = await store.query_events("job", after=ids[0], severities=["error"], provider="q")
            assert both is not None and [e.event.kind for e in both] == ["failed"]

        self.scenario(tmp_path, body)
