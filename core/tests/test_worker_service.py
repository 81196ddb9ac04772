"""Workers and members with the testing kit: `destiler worker`'s service, membership and takeover."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import anyio
import pytest

from destilation import PLANNER_ROLE, GenerationRequest, JobState, Member, TaskSeed, TaskState
from destilation.app import App
from destilation.config import JobSpec, Settings, structure
from destilation.engine import service
from destilation.engine.runner import RunOutcome
from destilation.engine.service import WorkerService, check_named
from destilation.plugins import make_plugin_manager
from destilation.testing import MemoryStore, ScriptedProvider, TestingKit, job_table

pytestmark = pytest.mark.anyio


def kit_app(kit: TestingKit, tmp_path: Path) -> App:
    pm = make_plugin_manager(load=False, extra=[kit])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))


def store_of(kit: TestingKit) -> MemoryStore:
    return kit.store("memory://")


async def run(app: App, table: dict[str, Any]) -> RunOutcome:
    spec = structure(table, JobSpec, source="job.toml")
    return await app.run(spec, table, "job.toml", resume=False, handle_signals=False)


class Slow(ScriptedProvider):
    """Answers after a pause, so that a run lasts long enough to watch it."""

    delay = 0.05

    async def generate(self, request: GenerationRequest) -> Any:
        await anyio.sleep(self.delay)
        return await super().generate(request)


class SlowKit(TestingKit):
    def _provider(self, config: None, context: Any, info: Any) -> ScriptedProvider:
        provider = Slow(self.scripts.get(info.name, self.default_script), info)
        self.providers[info.name] = provider
        return provider


async def running_job(app: App, store: MemoryStore, table: dict[str, Any]) -> None:
    """A job as its `destiler run` leaves it for workers: created, tasks planned, running."""
    spec = structure(table, JobSpec, source="job.toml")
    await store.create_job(table["name"], table, spec.count)
    seeds = list(app.prepare(spec, "job.toml").wiring.planner.seeds(0, spec.count))
    await store.add_tasks(table["name"], seeds)
    await store.set_job_state(table["name"], JobState.RUNNING, "running")


async def until(condition: Callable[[], bool], limit: float = 20) -> None:
    with anyio.fail_after(limit):
        while not condition():
            await anyio.sleep(0.01)


async def test_a_worker_works_a_running_job_without_planning_exporting_or_deciding_it(tmp_path: Path) -> None:
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    table = job_table(count=4)
    await running_job(app, store, table)
    said: list[str] = []
    worker = WorkerService(store, app.work, ["job"], say=said.append)
    async with anyio.create_task_group() as group:
        group.start_soon(worker.serve)
        await until(lambda: "job: stopped working (done)" in said)
        # Every sample committed, none exported, the job's state left to its runner.
        assert (await store.counts("job"))[TaskState.ACCEPTED] == 4
        assert kit.dataset("job").lines == []
        assert store.jobs["job"].state is JobState.RUNNING
        assert store.jobs["job"].planned == 4
        assert await store.members("job") == []  # it left when it stopped
        await store.set_job_state("job", JobState.DONE, "4 samples accepted")  # what the runner does
    assert said[0] == "job: working"


async def test_a_worker_and_a_runner_share_a_job_and_the_runner_exports_it(tmp_path: Path) -> None:
    kit = SlowKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    table = job_table(count=30)
    said: list[str] = []
    worker = WorkerService(store, app.work, ["job"], say=said.append)
    seen: list[set[str]] = []

    async def watch() -> None:
        while True:
            seen.append({m.kind for m in await store.members("job")})
            await anyio.sleep(0.02)

    async with anyio.create_task_group() as group:
        await store.create_job("job", table, 30)  # named jobs must exist before a worker starts
        group.start_soon(worker.serve)
        group.start_soon(watch)
        outcome = await run(app, table)
        await until(lambda: not worker._runners)
        group.cancel_scope.cancel()
    assert outcome.state is JobState.DONE
    assert len({r["meta"]["task"] for r in kit.dataset("job").records()}) == 30
    assert {"runner", "worker"} in seen, "the worker and the runner were members at once"


async def test_a_dead_members_tasks_are_taken_over_without_waiting_for_their_leases(tmp_path: Path) -> None:
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    table = job_table(count=3, lease_seconds=3600, member_timeout_s=2)
    await running_job(app, store, table)
    # A worker that took every task and died (kill -9): its heartbeat stopped a minute ago.
    assert len(await store.claim("job", "dead", 3, 3600)) == 3
    store.membership[("job", "dead")] = Member("job", "dead", "elsewhere", 1, "worker", 0.0, store.clock() - 60)
    with anyio.fail_after(20):  # without the takeover the worker would wait an hour for the leases
        outcome = await app.work(store.jobs["job"])
    assert outcome.state is JobState.DONE
    assert (await store.counts("job"))[TaskState.ACCEPTED] == 3
    reaped = [e for e in store.events if e.kind == "members_reaped"]
    assert reaped and "took over from dead: silent for 2 s" in reaped[0].message


async def test_sigterm_stops_a_worker_its_tasks_go_back_and_the_job_keeps_running(tmp_path: Path) -> None:
    kit = SlowKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    await running_job(app, store, job_table(count=200))
    said: list[str] = []
    worker = WorkerService(store, app.work, say=said.append)  # every running job
    async with anyio.create_task_group() as group:
        group.start_soon(worker.serve)
        await until(
            lambda: (store.tasks.get("job") or {}) and any(m.kind == "worker" for m in store.membership.values())
        )
        await until(lambda: store.samples.get("job", {}) != {})
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGTERM)  # a second one changes nothing
    assert any(line.startswith("job: stopped working (paused: worker stopped by SIGTERM") for line in said)
    counts = await store.counts("job")
    assert counts[TaskState.RUNNING] == 0 and 0 < counts[TaskState.ACCEPTED] < 200
    assert store.jobs["job"].state is JobState.RUNNING
    assert await store.members() == []


async def test_a_job_that_cannot_be_built_here_is_said_once_and_tried_again_when_it_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service, "POLL_S", 0.01)
    monkeypatch.setattr(service, "RESTART_S", 0.0)
    kit = TestingKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    table = job_table(name="elsewhere", providers=("teacher",))
    table["providers"]["teacher"]["kind"] = "not-installed-here"
    await store.create_job("elsewhere", table, 3)
    await store.set_job_state("elsewhere", JobState.RUNNING, "running")
    said: list[str] = []
    worker = WorkerService(store, app.work, say=said.append)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: worker.serve(handle_signals=False))
        await until(lambda: len(said) == 2)
        await anyio.sleep(0.1)  # many polls: the same record is not tried again
        assert len(said) == 2 and said[1].startswith("elsewhere: cannot work it here: ")
        assert "not-installed-here" in said[1]
        await store.set_job_state("elsewhere", JobState.RUNNING, "running again")
        await until(lambda: len(said) == 4)
        worker.stop("enough")
        worker.stop("twice")  # the first reason stands
    assert worker._stopping == "enough"


async def test_stopping_while_a_runner_is_being_built_stops_it_once_built(tmp_path: Path) -> None:
    kit = SlowKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    await running_job(app, store, job_table(count=50))
    worker = WorkerService(store, app.work, say=lambda line: None)

    async def work(record: Any, started: Callable[[Any], None]) -> Any:
        worker.stop("stopped early")  # before the runner exists: it is told once it does
        return await app.work(record, started)

    worker.work = work
    with anyio.fail_after(20):
        await worker.serve(handle_signals=False)
    assert (await store.counts("job"))[TaskState.RUNNING] == 0


async def test_named_jobs_missing_from_the_store_are_found_before_serving(tmp_path: Path) -> None:
    store = MemoryStore()
    await store.create_job("here", {}, 1)
    assert await check_named(store, ["here", "ghost", "gone"]) == ["ghost", "gone"]


class SharedStore(MemoryStore):
    """A store that lets many runners share a job, as PostgreSQL does: its runner lock frees nothing."""

    added: list[int]

    async def lock_runner(self, job: str, owner: str) -> None:
        return None

    async def add_tasks(self, job: str, seeds: Sequence[TaskSeed]) -> None:
        self.__dict__.setdefault("added", []).extend(seed.index for seed in seeds)
        await super().add_tasks(job, seeds)


async def test_only_the_holder_of_the_planner_role_plans(tmp_path: Path) -> None:
    kit = TestingKit()
    store = kit.stores["memory://"] = SharedStore()
    app = kit_app(kit, tmp_path)
    table = job_table(count=3)
    await store.create_job("job", table, 3)
    other = await store.acquire_role("job", PLANNER_ROLE, "other-runner", 3600)
    async with anyio.create_task_group() as group:
        outcomes: list[RunOutcome] = []

        async def runner() -> None:
            outcomes.append(await run(app, table))

        group.start_soon(runner)
        await until(lambda: any(m.kind == "runner" for m in store.membership.values()))
        await anyio.sleep(0.3)
        assert store.jobs["job"].planned == 0, "it planned while another process held the role"
        spec = structure(table, JobSpec, source="job.toml")
        await store.add_tasks("job", list(app.prepare(spec, "job.toml").wiring.planner.seeds(0, 2)))  # the other's
        await store.release_role("job", PLANNER_ROLE, "other-runner", other.fence)
    assert outcomes[0].state is JobState.DONE and store.jobs["job"].planned == 3
    assert store.added == [0, 1, 2], "the runner planned on from where the other planner stopped"
    role = await store.acquire_role("job", PLANNER_ROLE, "next", 3600)
    assert role.held_by("next"), "the runner handed the role back when it ended"


@pytest.mark.parametrize("state", [JobState.CANCELLED, JobState.PAUSED])
async def test_a_cancel_or_pause_in_the_store_stops_the_worker_and_its_tasks_go_back(
    tmp_path: Path, state: JobState
) -> None:
    kit = SlowKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    await running_job(app, store, job_table(count=200))
    said: list[str] = []
    worker = WorkerService(store, app.work, ["job"], say=said.append)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: worker.serve(handle_signals=False))
        await until(lambda: store.samples.get("job", {}) != {})
        await store.set_job_state("job", state, f"{state.value} by `destiler {state.value}`")
        await until(lambda: any("stopped working" in line for line in said))
        assert said[-1] == f"job: stopped working ({state.value}: {state.value} by `destiler {state.value}`)"
        assert (await store.counts("job"))[TaskState.RUNNING] == 0
        assert store.jobs["job"].state is state
        await store.set_job_state("job", JobState.CANCELLED if state is JobState.PAUSED else state)
    # Named and finished (cancelled): the service ended by itself.
    assert worker._stopping == "every job named is finished"


async def test_a_worker_holds_while_its_job_waits_for_providers_and_works_again_after(tmp_path: Path) -> None:
    from destilation.engine.attempts import UNAVAILABLE

    kit = SlowKit()
    app = kit_app(kit, tmp_path)
    store = store_of(kit)
    await running_job(app, store, job_table(count=300))
    worker = WorkerService(store, app.work, ["job"], say=lambda line: None)
    async with anyio.create_task_group() as group:
        group.start_soon(lambda: worker.serve(handle_signals=False))
        await until(lambda: store.samples.get("job", {}) != {})
        await store.set_job_state("job", JobState.PAUSED, f"{UNAVAILABLE}: teacher: circuit open")
        # Held, not stopped: its tasks go back while the runner probes, and it stays to work again.
        with anyio.fail_after(20):
            while (await store.counts("job"))[TaskState.RUNNING]:
                await anyio.sleep(0.01)
        held = len(store.samples["job"])
        await anyio.sleep(0.3)
        assert len(store.samples["job"]) == held
        await store.set_job_state("job", JobState.RUNNING, "running")
        await until(lambda: len(store.samples["job"]) > held)
        await store.set_job_state("job", JobState.CANCELLED)
