"""The engine against the call-policy contract: holds for want of providers, and what ends or resumes them.

A stub policy stands in for the real one (the contract is all the engine may rely on): tests
say which providers give requests up, which are available, and what a probe answers.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import anyio.lowlevel
import attrs
import pytest

from destilation import Event, GenerationRequest, JobState, Provider, ProviderError, TaskState, hookimpl
from destilation.app import App
from destilation.config import JobSpec, ProviderSpec, Settings, structure
from destilation.domain import Generation, ProviderHealth
from destilation.engine import assembly
from destilation.engine.assembly import build_loop, share, slots_for
from destilation.engine.attempts import UNAVAILABLE
from destilation.engine.runner import JobRunner, RunOutcome
from destilation.engine.writer import BatchWriter
from destilation.errors import ConfigError, DestilationError
from destilation.plugins import make_plugin_manager
from destilation.policy import CallPolicy, ProviderAborted, ProviderUnavailable
from destilation.testing import MemoryStore, TestingKit, job_table


@attrs.define
class World:
    """What the stub policies do: who gives requests up, who is available, what probes answer."""

    down: set[str] = attrs.field(factory=set)
    closed: set[str] = attrs.field(factory=set)
    """Providers whose circuit is open: `available()` is False."""
    probe: Callable[[str], bool] = lambda name: False
    probes: int = 0
    hang: bool = False
    """Requests get no answer (until cancelled): a job's tasks stay in flight."""
    on_down: Callable[[], None] = lambda: None
    """Called as a provider gives a request up."""
    refusing: set[str] = attrs.field(factory=set)
    """Providers that answer but will not serve any request (a model they lack): they stay available."""


class StubPolicy(CallPolicy):
    def __init__(self, provider: Provider, world: World) -> None:
        self.provider, self.world, self.info = provider, world, provider.info()
        self.name = self.info.name

    def available(self) -> bool:
        return self.name not in self.world.closed

    async def generate(self, request: GenerationRequest) -> Generation:
        await anyio.lowlevel.checkpoint()
        if self.world.hang:
            await anyio.sleep_forever()
        if self.name in self.world.refusing:
            raise ProviderUnavailable(f"provider {self.name}: it will not serve this request: no model", refused=True)
        if self.name in self.world.down:
            self.world.on_down()
            self.world.closed.add(self.name)
            raise ProviderUnavailable(f"{self.name}: connection refused")
        try:
            return await self.provider.generate(request)
        except ProviderError as exc:
            raise ProviderAborted(f"{self.name}: {exc}", retryable=False) from None

    async def probe(self) -> bool:
        self.world.probes += 1
        answered = self.world.probe(self.name)
        if answered:
            self.world.closed.discard(self.name)
        return answered

    def health(self, job: str, owner: str) -> ProviderHealth:
        return ProviderHealth(job=job, provider=self.name, owner=owner)


@pytest.fixture
def world(monkeypatch: pytest.MonkeyPatch) -> World:
    made = World()

    def make(provider: Provider, spec: ProviderSpec, **parts: Any) -> CallPolicy:
        return StubPolicy(provider, made)

    monkeypatch.setattr(assembly, "make_policy", make)
    return made


class Collector:
    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def register_subscribers(self, register: Any) -> None:
        register("collector", lambda context: self.events.append)


def kit_app(kit: TestingKit, tmp_path: Path, *plugins: object) -> App:
    pm = make_plugin_manager(load=False, extra=[kit, *plugins])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))


def two_providers(count: int = 4, **keys: Any) -> dict[str, Any]:
    return job_table(count=count, providers=("a", "b"), **keys)


async def held(store: MemoryStore, job: str = "job") -> str:
    """Wait until the job is paused for want of providers; its message."""
    with anyio.fail_after(20):
        while True:
            record = await store.get_job(job)
            message = record.message or "" if record is not None else ""
            if record is not None and record.state is JobState.PAUSED and message.startswith(UNAVAILABLE):
                return message
            await anyio.sleep(0.01)


async def run_while(app: App, table: dict[str, Any], meanwhile: Callable[[], Any]) -> RunOutcome:
    spec = structure(table, JobSpec, source="job.toml")
    outcome: list[RunOutcome] = []
    async with anyio.create_task_group() as group:

        async def work() -> None:
            outcome.append(await app.run(spec, table, "job.toml", resume=False, handle_signals=False))

        group.start_soon(work)
        await meanwhile()
        with anyio.fail_after(20):
            while not outcome:
                await anyio.sleep(0.01)
    return outcome[0]


@pytest.mark.anyio
async def test_a_users_pause_during_a_hold_ends_the_run_and_is_never_resumed(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    world.down = {"a", "b"}
    store = kit.store()

    async def pause() -> None:
        message = await held(store)
        assert message == f"{UNAVAILABLE}: a: connection refused; b: connection refused"
        world.down.clear()
        world.probe = lambda name: True  # a probe would now resume it: a user's pause must win
        await store.set_job_state("job", JobState.PAUSED, "paused by `destiler pause`")

    outcome = await run_while(kit_app(kit, tmp_path), two_providers(), pause)
    assert (outcome.state, outcome.message) == (JobState.PAUSED, "paused by `destiler pause`")
    assert (await store.counts("job"))[TaskState.RUNNING] == 0  # its tasks went back to pending


@pytest.mark.anyio
async def test_a_cancel_during_a_hold_ends_the_run_cancelled(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    world.down = {"a", "b"}

    async def cancel() -> None:
        await held(kit.store())
        await kit.store().set_job_state("job", JobState.CANCELLED, "cancelled by `destiler cancel`")

    outcome = await run_while(kit_app(kit, tmp_path), two_providers(), cancel)
    assert (outcome.state, outcome.message) == (JobState.CANCELLED, "cancelled by `destiler cancel`")


@pytest.mark.anyio
async def test_a_job_set_running_again_during_a_hold_resumes_without_a_probe(tmp_path: Path, world: World) -> None:
    kit, collector = TestingKit(), Collector()
    world.down = {"a", "b"}

    async def resume() -> None:
        await held(kit.store())
        world.down.clear()
        world.closed.clear()
        await kit.store().set_job_state("job", JobState.RUNNING, "resumed from the dashboard")

    outcome = await run_while(kit_app(kit, tmp_path, collector), two_providers(count=6), resume)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 6)
    kinds = [e.kind for e in collector.events]
    assert "job_held" in kinds and "job_resumed" in kinds and kinds[-1] == "job_done"


@pytest.mark.anyio
async def test_a_probe_that_meets_a_refused_key_fails_the_job(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    world.down = {"teacher"}

    def refuse(name: str) -> bool:
        raise ProviderAborted(f"{name}: HTTP 401 invalid key sk-abcdefghij0123456789", retryable=False)

    async def refused() -> None:
        await held(kit.store())
        world.probe = refuse

    outcome = await run_while(kit_app(kit, tmp_path), job_table(count=2), refused)
    assert outcome.state is JobState.FAILED
    assert outcome.message.startswith("provider 'teacher' stopped the job: HTTP 401 invalid key ")
    assert "sk-abcdefghij0123456789" not in outcome.message


@pytest.mark.anyio
async def test_without_failover_a_task_whose_provider_closes_pauses_when_no_other_is_available(
    tmp_path: Path, world: World
) -> None:
    kit = TestingKit()
    world.down = {"a"}
    world.closed = {"b"}  # b is open-circuited from the start: a task can only go to a

    async def recover() -> None:
        message = await held(kit.store())
        assert message == f"{UNAVAILABLE}: a: connection refused; b: circuit open"
        world.down.clear()
        world.probe = lambda name: name == "a"

    table = two_providers(count=3, routing={"strategy": "first", "failover": False})
    outcome = await run_while(kit_app(kit, tmp_path), table, recover)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 3)
    assert world.probes >= 1


def test_routing_failover_must_be_a_boolean_and_defaults_to_several_providers() -> None:
    from destilation.engine.wiring import failover_enabled

    one = structure(job_table(), JobSpec, source="job.toml")
    several = structure(two_providers(), JobSpec, source="job.toml")
    assert (failover_enabled(one), failover_enabled(several)) == (False, True)
    pinned = structure(two_providers(routing={"failover": False}), JobSpec, source="job.toml")
    assert failover_enabled(pinned) is False
    wrong = structure(two_providers(routing={"failover": "yes"}), JobSpec, source="job.toml")
    with pytest.raises(ConfigError, match=r"job\.toml: \$\.routing\.failover: expected true or false"):
        failover_enabled(wrong, "job.toml")


def worker_runner(app: App, store: MemoryStore, table: dict[str, Any]) -> JobRunner:
    """A forked worker process's runner, built as `service.open_worker_runner` builds it, in this process."""
    spec = structure(table, JobSpec, source="job.toml")
    prepared = app.prepare(spec, "job.toml")
    writer = BatchWriter(store, "main/w1")
    return JobRunner(
        spec=spec,
        record=store.jobs["job"],
        store=store,
        planner=prepared.wiring.planner,
        target=store.jobs["job"].target,
        task_limit=spec.task_limit,
        loop=build_loop(prepared, store, writer, 2),
        writer=writer,
        export=None,
        bus=prepared.bus,
        owner="main/w1",
        slots=share(slots_for(spec), 2),
        handle_signals=False,
        worker=True,
    )


async def held_job(app: App, store: MemoryStore, table: dict[str, Any]) -> None:
    """A job as its main process leaves it when held: tasks planned, state paused for want of providers."""
    spec = structure(table, JobSpec, source="job.toml")
    await store.create_job("job", table, spec.count)
    await store.add_tasks("job", list(app.prepare(spec, "job.toml").wiring.planner.seeds(0, spec.count)))
    await store.set_job_state("job", JobState.PAUSED, f"{UNAVAILABLE}: teacher: connection refused")


async def until(condition: Callable[[], bool]) -> None:
    with anyio.fail_after(20):
        while not condition():
            await anyio.sleep(0.01)


@pytest.mark.anyio
async def test_a_worker_holds_while_the_job_is_held_and_probes_only_once_it_runs_again(
    tmp_path: Path, world: World
) -> None:
    kit = TestingKit()
    app, store, table = kit_app(kit, tmp_path), kit.store(), job_table(count=4)
    await held_job(app, store, table)
    runner = worker_runner(app, store, table)
    world.down = {"teacher"}
    early: list[JobState] = []

    def probe(name: str) -> bool:
        if store.jobs["job"].state is not JobState.RUNNING:
            early.append(store.jobs["job"].state)
        return True

    world.probe = probe
    outcome: list[RunOutcome] = []
    async with anyio.create_task_group() as group:

        async def work() -> None:
            outcome.append(await runner.run())

        group.start_soon(work)
        await until(lambda: runner._held)
        await anyio.sleep(1.0)  # a few rounds of the hold, each leaving the state to the main process
        assert store.jobs["job"].state is JobState.PAUSED
        world.down.clear()
        await store.set_job_state("job", JobState.RUNNING, "running")
        await until(lambda: bool(outcome))
    assert outcome[0].state is JobState.DONE
    assert world.probes >= 1 and early == []
    assert (await store.counts("job"))[TaskState.ACCEPTED] == 4
    assert [row.owner for row in await store.provider_health("job")] == ["main/w1"]


@pytest.mark.anyio
async def test_a_worker_holds_when_the_main_process_is_held_and_stops_at_once_when_told(
    tmp_path: Path, world: World
) -> None:
    kit = TestingKit()
    app, store, table = kit_app(kit, tmp_path), kit.store(), job_table(count=4)
    await held_job(app, store, table)
    await store.set_job_state("job", JobState.RUNNING, "running")
    runner = worker_runner(app, store, table)
    world.hang = True
    outcome: list[RunOutcome] = []
    async with anyio.create_task_group() as group:

        async def work() -> None:
            outcome.append(await runner.run())

        group.start_soon(work)
        with anyio.fail_after(20):
            while (await store.counts("job"))[TaskState.RUNNING] == 0:  # its tasks are in flight
                await anyio.sleep(0.01)
        await store.set_job_state("job", JobState.PAUSED, f"{UNAVAILABLE}: teacher: connection refused")
        await until(lambda: runner._held)  # its control loop read the main process's hold
        with anyio.fail_after(20):
            while (await store.counts("job"))[TaskState.RUNNING]:  # and it gave its tasks back
                await anyio.sleep(0.01)
        runner.stop(JobState.PAUSED, "stopped by the main process")
        await until(lambda: bool(outcome))
    assert (outcome[0].state, outcome[0].message) == (JobState.PAUSED, "stopped by the main process")
    assert world.probes == 0


@pytest.mark.anyio
async def test_the_writer_flushes_what_was_handed_in_and_never_waits_when_it_is_not_running() -> None:
    from destilation import Release, Task, TaskSeed

    store = MemoryStore()
    await store.create_job("job", {}, 2)
    await store.add_tasks("job", [TaskSeed(0, {}), TaskSeed(1, {})])
    tasks: list[Task] = await store.claim("job", "me", 2, 60)
    writer = BatchWriter(store, "me", gather_s=0.05)
    for task in tasks:
        await writer.submit(Release(task))
    await writer.flush()  # not running: nothing could commit them, so it does not wait
    assert (writer.submitted, writer.committed) == (2, 0)
    async with anyio.create_task_group() as group:
        group.start_soon(writer.run)
        await anyio.lowlevel.checkpoint()  # the writer starts running
        await writer.flush()
        assert writer.committed == 2 and (await store.counts("job"))[TaskState.PENDING] == 2
        writer.close()


class OnlyA:
    """A routing rule's effect: every task needs provider a; without it, the router refuses."""

    def __init__(self, config: None, context: Any) -> None:
        pass

    def choose(self, task: Any, candidates: Any) -> Any:
        for info in candidates:
            if info.name == "a":
                return info
        raise DestilationError(f"task {task.key}: no healthy provider declares all of x")

    def observe(self, provider: str, ok: bool, latency_s: float) -> None:
        pass


class OnlyAPlugin:
    @hookimpl
    def register_routers(self, register: Any) -> None:
        register("only_a", OnlyA)


@pytest.mark.anyio
async def test_a_router_refusing_the_providers_left_pauses_the_job_but_refusing_all_fails_it(
    tmp_path: Path, world: World
) -> None:
    kit = TestingKit()
    world.down = {"a"}

    async def recover() -> None:
        message = await held(kit.store())
        assert message == f"{UNAVAILABLE}: a: connection refused; b: not on this task's route"
        world.down.clear()
        world.probe = lambda name: name == "a"

    table = two_providers(count=2, routing={"strategy": "only_a"})
    outcome = await run_while(kit_app(kit, tmp_path, OnlyAPlugin()), table, recover)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 2)

    other = TestingKit()
    table = job_table(count=2, providers=("b",), routing={"strategy": "only_a"})
    failed = await run_while(kit_app(other, tmp_path, OnlyAPlugin()), table, anyio.lowlevel.checkpoint)
    assert failed.state is JobState.FAILED and "no healthy provider declares all of x" in failed.message


@pytest.mark.anyio
async def test_health_rows_are_written_when_the_run_breaks_too(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    store = kit.store()
    setting = store.set_job_state

    async def refuse_running(name: str, state: JobState, message: str | None = None) -> None:
        if state is JobState.RUNNING:  # before any work: only the failure path writes the rows
            raise OSError(28, "No space left on device")
        await setting(name, state, message)

    store.set_job_state = refuse_running  # type: ignore[method-assign]
    outcome = await run_while(kit_app(kit, tmp_path), job_table(count=2), anyio.lowlevel.checkpoint)
    assert (outcome.state, outcome.message) == (JobState.FAILED, "No space left on device")
    assert [(row.provider, row.requests) for row in await store.provider_health("job")] == [("teacher", 0)]


@pytest.mark.anyio
async def test_a_users_pause_just_before_a_hold_is_kept_and_ends_the_run(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    store = kit.store()
    world.down = {"teacher"}
    world.probe = lambda name: True

    def user_pauses() -> None:  # `destiler pause` lands as the provider gives up, before the hold says why
        store.jobs["job"] = attrs.evolve(store.jobs["job"], state=JobState.PAUSED, message="paused by `destiler pause`")

    world.on_down = user_pauses
    outcome = await run_while(kit_app(kit, tmp_path), job_table(count=2), anyio.lowlevel.checkpoint)
    assert (outcome.state, outcome.message) == (JobState.PAUSED, "paused by `destiler pause`")
    assert store.jobs["job"].message == "paused by `destiler pause`"
    assert world.probes == 0


@pytest.mark.anyio
async def test_a_request_one_provider_refuses_goes_to_the_other(tmp_path: Path, world: World) -> None:
    kit = TestingKit()
    world.refusing = {"a"}
    table = two_providers(count=3, routing={"strategy": "first"})
    outcome = await kit_app(kit, tmp_path).run(
        structure(table, JobSpec, source="job.toml"), table, "job.toml", resume=False, handle_signals=False
    )
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.DONE, 3, 0)


@pytest.mark.anyio
async def test_a_request_every_provider_refuses_rejects_its_task_and_the_job_says_why(
    tmp_path: Path, world: World
) -> None:
    """Waiting cannot help a refusal: no hold, the tasks are rejected and the stop line names the cause."""
    kit = TestingKit()
    world.refusing = {"a", "b"}
    table = two_providers(count=2, max_tasks=3)
    outcome = await kit_app(kit, tmp_path).run(
        structure(table, JobSpec, source="job.toml"), table, "job.toml", resume=False, handle_signals=False
    )
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.FAILED, 0, 3)
    assert world.probes == 0
    assert "(the last: every provider refused the request: " in outcome.message
    assert "a: it will not serve this request: no model" in outcome.message
    rejected = await kit.store().list_tasks("job", TaskState.REJECTED)
    assert {r.reasons[0].code for r in rejected} == {"provider_refused"}
