"""Workers: processes that only work a job, and `destiler worker`, which serves jobs of a shared store.

A worker runs a worker runner (`open_worker_runner`: claim, generate, validate, commit),
coordinated with the job's other processes only through the store. It never plans, exports or
decides a job's state; the job's `destiler run` does. A worker is either started by hand
(`destiler worker`, on any machine that reaches the store, the job built from its stored spec
with secrets from this machine's environment) or forked by `destiler run` (engine.forking).
The service below is the former:
Which jobs it serves is read from the store every `POLL_S`: the named ones, or every running
job when none is named. A runner that ends (the job paused, done, cancelled) is started again
once the job runs again; with jobs named, the service ends when each of them is finished.
"""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack

import anyio
import attrs

from destilation.domain import JobRecord, JobState
from destilation.engine.assembly import (
    Prepared,
    build_loop,
    make_policies,
    open_validators,
    share,
    slots_for,
    validation_context,
)
from destilation.engine.runner import JobRunner, RunOutcome
from destilation.engine.writer import BatchWriter
from destilation.errors import DestilationError, JobError
from destilation.interfaces import StateStore

POLL_S = 0.5
"""Seconds between two reads of the jobs: a job set running is served within this."""
RESTART_S = 2.0
"""A job whose runner ended is not served again before this, so a job about to finish is not rebuilt in a loop."""
FINISHED = frozenset({JobState.DONE, JobState.FAILED, JobState.CANCELLED})


async def open_worker_runner(stack: AsyncExitStack, prepared: Prepared, owner: str, processes: int = 1) -> JobRunner:
    """A worker's runner on the stored job, its providers, store and validators open for the rest of `stack`.

    `processes`: how many processes of one run share the job's slots and providers' limits (a
    run's forked workers, 1 for `destiler worker`).
    """
    spec, store = prepared.spec, prepared.store
    for provider in prepared.providers:
        stack.push_async_callback(provider.aclose)
    await stack.enter_async_context(store)
    await store.open(create=False)
    record = await store.get_job(spec.name)
    if record is None:  # a worker never creates a job: `destiler run` does
        raise JobError(f"no job named {spec.name!r} in the store")
    writer = BatchWriter(store, owner)
    policies = make_policies(prepared, processes)
    await open_validators(stack, prepared.wiring.validators, validation_context(prepared, store, policies))
    return JobRunner(
        spec=spec,
        record=record,
        store=store,
        planner=prepared.wiring.planner,
        target=record.target,
        task_limit=spec.task_limit,
        loop=build_loop(prepared, store, writer, processes, policies),
        writer=writer,
        export=None,
        bus=prepared.bus,
        owner=owner,
        slots=share(slots_for(spec), processes),
        handle_signals=False,
        worker=True,
    )


Work = Callable[[JobRecord, Callable[[JobRunner], None]], Awaitable[RunOutcome]]
"""Run a worker runner on a stored job, handing the runner to the callback once built (App.work)."""


@attrs.define
class WorkerService:
    """Serve jobs of `store` with `work` until stopped, or until every named job is finished."""

    store: StateStore
    work: Work
    names: Sequence[str] = ()
    say: Callable[[str], None] = print
    """Where one line per change goes (a job served, a runner ended, a job that cannot be served)."""
    _runners: dict[str, JobRunner | None] = attrs.field(factory=dict)
    """Job → its runner while served (None while it is being built)."""
    _resting: dict[str, float] = attrs.field(factory=dict)
    """Job → the monotonic time before which it is not served again."""
    _refused: dict[str, float] = attrs.field(factory=dict)
    """Job → the `updated_at` of the record it could not be served at: tried again once that changes."""
    _stopping: str = ""

    def stop(self, reason: str) -> None:
        """Stop serving: every runner hands its tasks back, and no job is served again."""
        if not self._stopping:
            self._stopping = reason
            for runner in self._runners.values():
                if runner is not None:
                    runner.stop(JobState.PAUSED, reason)

    async def serve(self, *, handle_signals: bool = True) -> None:
        async with anyio.create_task_group() as outer:
            if handle_signals:
                outer.start_soon(self._signals)
            async with anyio.create_task_group() as group:  # left once every runner has stopped
                while not self._stopping:
                    records = await self.store.list_jobs()
                    if self._all_named_finished(records):
                        break
                    now = anyio.current_time()
                    for record in records:
                        if self._wanted(record, now):
                            self._runners[record.name] = None
                            group.start_soon(self._serve_one, record)
                    await anyio.sleep(POLL_S)
                self.stop(self._stopping or "every job named is finished")
            outer.cancel_scope.cancel()

    def _wanted(self, record: JobRecord, now: float) -> bool:
        name = record.name
        if record.state is not JobState.RUNNING or name in self._runners or (self.names and name not in self.names):
            return False
        if self._refused.get(name) == record.updated_at:
            return False
        return now >= self._resting.get(name, 0.0)

    def _all_named_finished(self, records: list[JobRecord]) -> bool:
        states = {r.name: r.state for r in records}
        return bool(self.names) and all(states.get(name) in FINISHED for name in self.names)

    async def _serve_one(self, record: JobRecord) -> None:
        name = record.name

        def started(runner: JobRunner) -> None:
            self._runners[name] = runner
            if self._stopping:
                runner.stop(JobState.PAUSED, self._stopping)

        self.say(f"{name}: working")
        try:
            outcome = await self.work(record, started)
        except DestilationError as exc:  # its plugins or secrets are missing here: say so once
            self._refused[name] = record.updated_at
            self.say(f"{name}: cannot work it here: {exc}")
        else:
            self.say(
                f"{name}: stopped working ({outcome.state.value}{': ' + outcome.message if outcome.message else ''})"
            )
        finally:
            del self._runners[name]
            self._resting[name] = anyio.current_time() + RESTART_S

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                self.stop(f"worker stopped by {signal.Signals(signum).name}")


async def check_named(store: StateStore, names: Sequence[str]) -> list[str]:
    """The named jobs missing from the store (a worker told to serve them would wait forever)."""
    known = {record.name for record in await store.list_jobs()}
    return [name for name in names if name not in known]
