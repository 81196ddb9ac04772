"""The engine (runner, exporter, app) driven with the testing kit alone: no plugin distribution needed."""

from __future__ import annotations

import os
import signal
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from destilation import (
    Candidate,
    GenerationRequest,
    Issue,
    JobState,
    ProviderError,
    SinkCursor,
    SubscriberRegistrar,
    TaskState,
    ValidationContext,
    ValidatorRegistrar,
    Verdict,
    hookimpl,
)
from destilation.app import App, make_app
from destilation.config import JobSpec, Settings, structure
from destilation.engine.exporter import Exporter
from destilation.engine.runner import RunOutcome
from destilation.errors import ConfigError, JobError
from destilation.events import EventBus
from destilation.plugins import make_plugin_manager
from destilation.testing import MemorySink, MemoryStore, ScriptedProvider, TestingKit, job_table, qa_answer


def kit_app(kit: TestingKit, tmp_path: Path, *plugins: object) -> App:
    pm = make_plugin_manager(load=False, extra=[kit, *plugins])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))


async def run(app: App, table: dict[str, Any], *, resume: bool = False, signals: bool = False) -> RunOutcome:
    spec = structure(table, JobSpec, source="job.toml")
    return await app.run(spec, table, "job.toml", resume=resume, handle_signals=signals)


def store_of(kit: TestingKit) -> MemoryStore:
    return kit.store("memory://")


async def wait_for_accepted(store: MemoryStore, job: str, n: int) -> None:
    while job not in store.jobs or (await store.counts(job))[TaskState.ACCEPTED] < n:
        await anyio.sleep(0.01)


class Gate:
    """A script that answers the first `open` requests, then holds every later one until `release`."""

    def __init__(self, open: int) -> None:
        self.open = open
        self.calls = 0
        self.released = anyio.Event()

    def release(self) -> None:
        self.released.set()


class GatedProvider(ScriptedProvider):
    def __init__(self, gate: Gate, info: Any) -> None:
        super().__init__(qa_answer, info)
        self.gate = gate

    async def generate(self, request: GenerationRequest) -> Any:
        self.gate.calls += 1
        if self.gate.calls > self.gate.open:
            await self.gate.released.wait()
        return await super().generate(request)


@attrs.define(eq=False)
class GatedKit(TestingKit):
    gate: Gate = attrs.field(factory=lambda: Gate(2))

    def _provider(self, config: None, context: Any, info: Any) -> ScriptedProvider:
        provider = GatedProvider(self.gate, info)
        self.providers[info.name] = provider
        return provider


@pytest.mark.anyio
async def test_a_job_runs_to_done_and_its_dataset_follows_the_store(tmp_path: Path) -> None:
    kit = TestingKit()
    outcome = await run(kit_app(kit, tmp_path), job_table(count=6))
    assert (outcome.state, outcome.target, outcome.accepted, outcome.rejected) == (JobState.DONE, 6, 6, 0)
    assert outcome.message == "6 samples accepted"
    store, dataset = store_of(kit), kit.dataset("job")
    by_seq = await store.samples_after("job", 0, 100)
    assert [r["meta"]["task"] for r in dataset.records()] == [s.task_index for s in by_seq]
    assert await store.get_cursor("job", "memory") == SinkCursor(by_seq[-1].seq, dataset.size)
    ((record, counts),) = dataset.finalized
    assert record.state is JobState.DONE and counts[TaskState.ACCEPTED] == 6
    kinds = [e.kind for e in store.events]
    assert kinds[0] == "job_started" and kinds[-1] == "job_done"
    assert kit.providers["teacher"].closed
    assert "Write question 0 about tides." in {r.messages[1].content for r in kit.providers["teacher"].requests}


@pytest.mark.anyio
@pytest.mark.parametrize("parser", ["the kit's validator", "the engine"])
async def test_answers_that_fail_are_retried_with_feedback_then_rejected(tmp_path: Path, parser: str) -> None:
    kit = TestingKit(default_script=lambda request: "not json at all")
    validators = {"parse_json": False} if parser == "the engine" else {}
    table = job_table(count=2, max_attempts=2, max_tasks=2, validators=validators)
    outcome = await run(kit_app(kit, tmp_path), table)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.FAILED, 0, 2)
    assert "only 0 of 2 samples accepted" in outcome.message and "task limit (2) is reached" in outcome.message
    rejected = await store_of(kit).list_tasks("job", TaskState.REJECTED)
    assert {i.code for t in rejected for i in t.reasons} == {"invalid_json"}
    retries = [r for r in kit.providers["teacher"].requests if r.attempt == 2]
    assert len(retries) == 2 and "Your previous answer was rejected" in retries[0].messages[-1].content
    assert kit.dataset("job").lines == []


class NeedsAHint:
    """A third party's validator: refuses the first answer of every task."""

    name = "needs_a_hint"

    def __init__(self, config: None, context: Any) -> None:
        self.seen: set[int] = set()

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        if candidate.task.index in self.seen:
            return Verdict()
        self.seen.add(candidate.task.index)
        return Verdict(issues=(Issue("too_short", "say more", hint="add detail"),))


class HintPlugin:
    @hookimpl
    def register_validators(self, register: ValidatorRegistrar) -> None:
        register("needs_a_hint", NeedsAHint)


@pytest.mark.anyio
async def test_a_plugin_validator_is_tested_in_a_real_job(tmp_path: Path) -> None:
    kit = TestingKit()
    table = job_table(count=3, validators={"needs_a_hint": {}})
    outcome = await run(kit_app(kit, tmp_path, HintPlugin()), table)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 3)
    assert {r["meta"]["attempts"] for r in kit.dataset("job").records()} == {2}
    detail = await store_of(kit).get_task("job", 0)
    assert detail is not None and [a.issues[0].code for a in detail.attempts if a.issues] == ["too_short"]


@pytest.mark.anyio
async def test_provider_errors_are_retried_without_an_attempt_or_abort_the_job(tmp_path: Path) -> None:
    limited = TestingKit(
        scripts={
            "teacher": [
                ProviderError("slow down", status=429, retry_after=0),
                *[{"question": f"q{i}", "answer": "a"} for i in range(2)],
            ]
        }
    )
    table = job_table(count=2, providers=("teacher",))
    table["providers"]["teacher"]["concurrency"] = 1
    outcome = await run(kit_app(limited, tmp_path), table)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 2)
    # The 429 was the call policy's to retry: no task spent an attempt on it.
    for index in (0, 1):
        detail = await store_of(limited).get_task("job", index)
        assert detail is not None and [(a.number, a.ok) for a in detail.attempts] == [(1, True)]
    # The request sent again is the same request: the model never hears of the provider's failure.
    sent = limited.providers["teacher"].requests
    again = [r for r in sent if r.seed == sent[0].seed]
    assert len(sent) == 3 and len(again) == 2 and again[0] == again[1] and all(r.attempt == 1 for r in sent)

    broken = TestingKit(default_script=lambda request: ProviderError("bad key", retryable=False, status=401))
    failed = await run(kit_app(broken, tmp_path), job_table(count=2))
    assert failed.state is JobState.FAILED
    assert failed.message.startswith("provider 'teacher' stopped the job: ") and "bad key" in failed.message
    record = await store_of(broken).get_job("job")
    assert record is not None and (record.state, record.message) == (JobState.FAILED, failed.message)


@pytest.mark.anyio
async def test_pause_from_the_store_then_resume_finishes_exactly_once(tmp_path: Path) -> None:
    kit, collector = GatedKit(), Collector()
    app = kit_app(kit, tmp_path, collector)
    store = store_of(kit)
    table = job_table(count=6, lease_seconds=0.6)  # renewed at every look at the store

    async def pause() -> None:
        await wait_for_accepted(store, "job", 2)
        # Held up by the gate, the job runs long enough to report progress and renew its leases.
        while not any(e.kind == "progress" for e in collector.events):
            await anyio.sleep(0.01)
        await store.set_job_state("job", JobState.PAUSED, "paused by a test")

    async with anyio.create_task_group() as tg:
        tg.start_soon(pause)
        outcome = await run(app, table)
    progress = next(e for e in collector.events if e.kind == "progress")
    assert (progress.data["accepted"], progress.data["target"]) == (2, 6)
    assert (outcome.state, outcome.accepted, outcome.message) == (JobState.PAUSED, 2, "paused by a test")
    counts = await store.counts("job")
    assert counts[TaskState.RUNNING] == 0, "every lease was handed back"
    assert len(kit.dataset("job").lines) == 2

    kit.gate.release()
    resumed = await run(app, table, resume=True)
    assert (resumed.state, resumed.accepted) == (JobState.DONE, 6)
    tasks = [r["meta"]["task"] for r in kit.dataset("job").records()]
    assert len(tasks) == 6 == len(set(tasks))


@pytest.mark.anyio
async def test_cancel_from_the_store_ends_the_job_for_good(tmp_path: Path) -> None:
    kit = GatedKit(gate=Gate(1))
    app = kit_app(kit, tmp_path)
    store = store_of(kit)

    async def cancel() -> None:
        await wait_for_accepted(store, "job", 1)
        await store.set_job_state("job", JobState.CANCELLED, "cancelled by a test")

    async with anyio.create_task_group() as tg:
        tg.start_soon(cancel)
        outcome = await run(app, job_table(count=4))
    assert (outcome.state, outcome.accepted) == (JobState.CANCELLED, 1)
    events = [e.kind for e in store.events]
    assert events[-1] == "job_cancelled"
    kit.gate.release()
    with pytest.raises(JobError, match="was cancelled; start it again under another name"):
        await run(app, job_table(count=4), resume=True)


@pytest.mark.anyio
async def test_an_interrupt_pauses_the_job(tmp_path: Path) -> None:
    kit = GatedKit(gate=Gate(1))
    store = store_of(kit)

    async def interrupt() -> None:
        await wait_for_accepted(store, "job", 1)
        os.kill(os.getpid(), signal.SIGINT)

    async with anyio.create_task_group() as tg:
        tg.start_soon(interrupt)
        outcome = await run(kit_app(kit, tmp_path), job_table(count=3), signals=True)
    assert (outcome.state, outcome.message) == (JobState.PAUSED, "interrupted by SIGINT")
    kit.gate.release()


@pytest.mark.anyio
async def test_a_done_job_only_repairs_its_dataset(tmp_path: Path) -> None:
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    table = job_table(count=3)
    assert (await run(app, table)).state is JobState.DONE
    dataset = kit.dataset("job")
    whole = list(dataset.lines)
    dataset.lines.clear()  # the dataset was lost: rebuilt from the store
    again = await run(app, table)
    assert (again.state, again.message, again.accepted) == (JobState.DONE, "already done", 3)
    assert dataset.lines == whole
    dataset.lines.append(b'{"torn": ')  # a crash after a write, before its cursor: cut
    await run(app, table)
    assert dataset.lines == whole
    assert len(kit.providers["teacher"].requests) == 0, "a done job sends no request"
    assert len(dataset.finalized) == 3


@pytest.mark.anyio
async def test_resume_needs_a_job_and_inputs_cap_the_target(tmp_path: Path) -> None:
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    with pytest.raises(JobError, match="no job named 'job' in memory://"):
        await run(app, job_table(count=2), resume=True)
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"topic": "owls"}\n{"topic": "moss"}\n', encoding="utf-8")
    table = job_table("rows", count=5, inputs=str(rows))
    del table["axes"]
    with pytest.raises(ConfigError, match=r"\$\.count: 5 samples asked for, but .*rows\.jsonl has 2 rows"):
        await run(app, table)
    table["count"] = 2
    outcome = await run(app, table)
    assert (outcome.state, outcome.target, outcome.accepted) == (JobState.DONE, 2, 2)
    assert sorted(r["question"] for r in kit.dataset("rows").records()) == [
        "Write question 0 about owls.",
        "Write question 1 about moss.",
    ]


@pytest.mark.anyio
async def test_the_exporter_reads_back_what_it_was_not_handed(tmp_path: Path) -> None:
    kit = TestingKit()
    await run(kit_app(kit, tmp_path), job_table(count=5))
    store = store_of(kit)
    samples = await store.samples_after("job", 0, 10)
    sink = MemorySink()
    exporter = Exporter(store, "job", "copy", sink, page=2)
    await exporter.open()
    exporter.offer(samples[:1] + samples[2:3])  # the second one never arrives in memory: a gap
    assert await exporter.catch_up() == 5
    assert [r["meta"]["task"] for r in sink.dataset.records()] == [s.task_index for s in samples]
    assert await store.get_cursor("job", "copy") == SinkCursor(samples[-1].seq, sink.dataset.size)
    assert await exporter.catch_up() == 0

    stale = Exporter(store, "job", "copy", MemorySink())  # its file is gone: the cursor goes back to 0
    await stale.open()
    assert await store.get_cursor("job", "copy") == SinkCursor()


@pytest.mark.anyio
async def test_check_prepare_and_the_stored_spec(tmp_path: Path) -> None:
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    table = job_table(count=2)
    spec = structure(table, JobSpec, source="job.toml")
    # `check` is synchronous (the CLI calls it outside any event loop): here it runs in a thread.
    assert (await anyio.to_thread.run_sync(app.check, spec, "job.toml")).id == "testing.qa"
    prepared = app.prepare(spec, "job.toml")
    assert [p.info().name for p in prepared.providers] == ["teacher"]
    await run(app, table)
    record = await store_of(kit).get_job("job")
    assert record is not None and app.spec_of(record) == spec
    made = make_app(app.pm, config=None, db="memory://other", data_dir=str(tmp_path / "data"))
    assert (made.store_url, made.data_dir) == ("memory://other", str(tmp_path / "data"))


class SameContent:
    """Every answer fingerprints alike, so only the first can be accepted."""

    @hookimpl
    def fingerprint(self, sample_content: Any) -> str:
        return "same"


@pytest.mark.anyio
async def test_duplicates_are_retried_with_feedback_then_rejected(tmp_path: Path) -> None:
    kit = TestingKit()
    outcome = await run(kit_app(kit, tmp_path, SameContent()), job_table(count=2, max_attempts=2, max_tasks=2))
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.FAILED, 1, 1)
    (rejected,) = await store_of(kit).list_tasks("job", TaskState.REJECTED)
    assert [i.code for i in rejected.reasons] == ["duplicate"]


class Collector:
    def __init__(self) -> None:
        self.events: list[Any] = []

    @hookimpl
    def register_subscribers(self, register: SubscriberRegistrar) -> None:
        register("collector", lambda context: self.events.append)


@pytest.mark.anyio
async def test_subscribers_see_the_run_and_the_store_url_is_checked(tmp_path: Path) -> None:
    kit, collector = TestingKit(), Collector()
    app = kit_app(kit, tmp_path, collector)
    await run(app, job_table(count=1))
    assert [e.kind for e in collector.events][:: len(collector.events) - 1] == ["job_started", "job_done"]
    async with AsyncExitStack() as stack:
        store = await app.open_store(stack)
        assert store is store_of(kit) and [r.name for r in await store.list_jobs()] == ["job"]
    await store.set_job_state("job", JobState.PAUSED)
    with pytest.raises(ConfigError, match=r"already exists with other settings \(changed: \$\.max_attempts\)"):
        await run(app, job_table(count=1, max_attempts=5))
    with pytest.raises(ConfigError, match=r"--db: 'nowhere' is not a database URL"):
        attrs.evolve(app, store_url="nowhere").make_store(app.context(EventBus()))
    with pytest.raises(ConfigError, match="--db: unknown store 'mysql'; installed: memory"):
        attrs.evolve(app, store_url="mysql://db").make_store(app.context(EventBus()))
