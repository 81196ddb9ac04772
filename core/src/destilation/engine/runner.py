"""Run one job to completion, pause, cancel or failure, under one anyio task group.

The feeder plans and leases tasks from the store and hands them to the slots (a hand-off
queue; its claims bound what it holds), slots run attempt loops, one writer commits transitions
in batches through a bounded memory stream, and the holder of the job's exporter role projects
committed samples into sinks.
A control loop watches the store, so `destiler pause` in another terminal (or the TUI) stops
the run within a second, and writes the call policies' health rows about once a second.

When no provider can take a task the run *holds*: the job is paused with the reason, its tasks
go back to pending, and the runner probes the providers until one answers, then works again. A
user's pause (another message in the store) is never resumed by itself.
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

import anyio
import attrs

from destilation.config import JobSpec
from destilation.control import Budget, Decision, JobControl, Pause, Progress, Spend, Stop, budget_of
from destilation.domain import JSON, Event, JobRecord, JobState, Member, Task, TaskState
from destilation.engine.attempts import UNAVAILABLE, AttemptLoop, JobAborted, NoProviderLeft, cause_of
from destilation.engine.exporter import ExportRole
from destilation.engine.failure import describe_failure, record_failure
from destilation.engine.planner import Planner
from destilation.engine.streams import Handoff
from destilation.engine.writer import BatchWriter, Pending, accepted_in
from destilation.events import EventBus
from destilation.interfaces import PLANNER_ROLE, AttemptTotals, StateStore
from destilation.policy import CallPolicy, ProviderAborted
from destilation.policy.peers import Peers
from destilation.redaction import redact_text

if TYPE_CHECKING:
    from destilation.engine.forking import ForkedWorker

CONTROL_INTERVAL = 0.25
PROGRESS_INTERVAL = 0.5
COUNTS_MAX_AGE = 0.1
ROLE_WAIT_MARGIN = 1.0
"""Seconds past a lease's length that a finishing run waits for the exporter role."""
HEALTH_INTERVAL = 0.75
"""Seconds between two writes of the health rows: with the control loop's tick, at least once a second."""
PROBE_FIRST_S = 0.5
PROBE_MAX_S = 8.0
"""While held, the providers are probed after `PROBE_FIRST_S`, then ever less often, up to this."""
PLANNER_RETRY_S = 1.0
"""While another process holds the planner role, seconds between two asks for it."""
MEMBER_BEAT_S = 1.0
"""Seconds between two heartbeats of this process's member row (fewer when `member_timeout_s` is short)."""


def new_owner() -> str:
    """A lease owner id unique to this process and run."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@attrs.frozen
class RunOutcome:
    state: JobState
    target: int
    accepted: int
    rejected: int
    message: str = ""
    dataset: str = ""
    """Why the dataset may not hold every accepted sample yet (another process writes it), or ""."""


@attrs.define
class JobRunner:
    """Drives one job. Build it with everything wired; `run()` returns how it ended."""

    spec: JobSpec
    record: JobRecord
    store: StateStore
    planner: Planner
    target: int
    task_limit: int
    loop: AttemptLoop
    writer: BatchWriter
    export: ExportRole | None
    """The job's dataset: written by this process while it holds the exporter role; None in a worker."""
    bus: EventBus
    owner: str
    slots: int
    """Tasks this process works on at once (the job's `workers` key, shared among its processes)."""
    forked: Sequence[ForkedWorker] = ()
    """Workers this process forked: started once the job runs, stopped before the dataset is final."""
    handle_signals: bool = True
    worker: bool = False
    """A worker's runner (forked, or `destiler worker`): it claims and works tasks, plans and decides nothing.

    It does heed a budget: once one is reached it claims and starts nothing more."""
    control: JobControl = attrs.field(factory=JobControl)
    """Asked on each fresh count whether the job goes on, pauses or stops (`destilation.control`)."""
    _stop: JobState | None = None
    _message: str = ""
    _work: anyio.CancelScope = attrs.field(factory=anyio.CancelScope)
    """Scope of the work stage; cancelling it before the stage starts makes the stage end at once."""
    _inflight: int = 0
    _slot_freed: anyio.Event = attrs.field(factory=anyio.Event)
    _counts: dict[TaskState, int] = attrs.field(factory=dict)
    _own_at_count: int = 0
    """This process's accepted samples when the job's tasks were last counted."""
    _recorded: JobState | None = None
    """The final state `_finish` recorded in the store, once it has."""
    _held: bool = False
    """The work stage stopped because no provider could take a task: the run waits to work again."""
    _wake: anyio.Event = attrs.field(factory=anyio.Event)
    """Set by `stop`, so that a held run ends at once."""
    _stage: int = 0
    """Work stages begun: the control loop ignores what it read about an earlier one."""
    _draining: str = ""
    """Why the job pauses once its tasks in flight are done (a budget): nothing new is claimed or started."""
    _budget: Budget = attrs.field(init=False)
    _others_spent: Spend = attrs.field(factory=Spend)
    """What the job's other processes and earlier runs spent, as their stored health rows said last."""

    _started_at: float = attrs.field(factory=time.time)
    _planner_until: float = 0.0
    """Monotonic time until which this process holds the planner role without asking the store again."""
    _planner_fence: int | None = None
    _members: int = 0
    """Members of the job at the last heartbeat (`destiler worker`s on other machines included)."""
    _planner_asked: float = -PLANNER_RETRY_S
    """Monotonic time the store was last asked for the planner role."""

    def __attrs_post_init__(self) -> None:
        self._budget = budget_of(self.spec)
        self.loop.halted = self._over_budget

    def _spent(self) -> Spend:
        """Every process's and run's spend: this one's live from its policies, the others' from the store."""
        own = Spend()
        for policy in self.loop.policies.values():
            row = policy.health(self.spec.name, self.owner)
            own += Spend(row.requests, row.prompt_tokens + row.completion_tokens, row.cost)
        return own + self._others_spent

    async def _count_spend(self) -> None:
        rows = await self.store.provider_health(self.spec.name)
        spent = Spend()
        for row in rows:
            if row.owner != self.owner:
                spent += Spend(row.requests, row.prompt_tokens + row.completion_tokens, row.cost)
        self._others_spent = spent

    def _over_budget(self) -> bool:
        """Whether no attempt may start: a cap is reached (checked before each attempt, on live figures)."""
        if not self._draining and self._budget.capped:
            self._draining = self._budget.reached(self._spent()) or ""
        return bool(self._draining)

    def stop(self, state: JobState, message: str = "") -> None:
        """End the work stage; the first reason given wins, except over a hold, which it ends."""
        if self._stop is None or self._held:
            self._stop, self._message, self._held = state, message, False
            self._wake.set()
        self._work.cancel()

    def hold(self, reason: str) -> None:
        """End the work stage until a provider answers a probe (see `_hold`), unless the run is ending anyway."""
        if self._stop is None:
            self._stop, self._message, self._held = JobState.PAUSED, reason, True
        self._work.cancel()

    def _may_be_done(self) -> bool:
        """Whether the last count and the samples this process accepted since reach the target."""
        since = self.loop.accepted - self._own_at_count
        return bool(self._counts) and self._counts[TaskState.ACCEPTED] + since >= self.target

    async def _count(self) -> None:
        own = self.loop.accepted
        self._counts = await self.store.counts(self.spec.name)
        # Commits during the count may be in it or not: keep them in the estimate, which then errs high.
        self._own_at_count = own

    async def run(self) -> RunOutcome:
        """Run the job; whatever breaks inside ends it `failed` with one line, never left `running`."""
        try:
            return await self._run()
        except Exception as exc:  # a sink, the disk, the store or a plugin's bug: the job must not stay running
            return await self._failed(exc)

    async def _run(self) -> RunOutcome:
        if not self.worker:
            await self.store.set_job_state(self.spec.name, JobState.RUNNING, "running")
            self.record = await self.store.get_job(self.spec.name) or self.record
            self.bus.emit(Event("job_started", self.spec.name, f"target {self.target} samples"))
        if self.export is not None:
            await self.export.take()
        # Only now, so that workers never start on a job whose dataset cannot even be opened.
        for forked in self.forked:
            await forked.start()
        writer_done = anyio.Event()

        async def write() -> None:
            try:
                await self._guarded(self.writer.run)
            finally:
                writer_done.set()

        async with anyio.create_task_group() as outer:
            outer.start_soon(write)
            async with anyio.create_task_group() as background:
                for forked in self.forked:
                    background.start_soon(forked.watch, functools.partial(self.stop, JobState.FAILED))
                if self.export is not None:
                    background.start_soon(self._guarded, self.export.follow)
                background.start_soon(self._guarded, self._control)
                if self.handle_signals:
                    background.start_soon(self._signals)
                try:
                    while True:
                        await self._work_stage()
                        if not self._held or not await self._hold():
                            break
                finally:
                    self.writer.close()
                    with anyio.CancelScope(shield=True):
                        await writer_done.wait()
                        await self._release(self.owner)
                        await self._leave()
                        # Before the last export: what the workers committed must be in the dataset.
                        # All are told first, so they wind down together.
                        for forked in self.forked:
                            forked.ask_to_stop()
                        for forked in self.forked:
                            await forked.stop()
                            await self._release(forked.owner)
                            with contextlib.suppress(Exception):  # a killed worker left its row behind
                                await self.store.leave(self.spec.name, forked.owner)
                        background.cancel_scope.cancel()
                        await self._write_health()
        return await self._finish()

    async def _hold(self) -> bool:
        """Paused for want of providers: tasks back to pending, then probe until one answers.

        True: work again. False: the run ends, for a reason `stop` was given meanwhile (a user's
        pause or cancel read from the store, a signal, the main process's word, an abort).
        A worker process leaves the job's state to the main process: it holds, too, while the
        job is paused for want of providers, and probes on its own only while the job runs.
        """
        name = self.spec.name
        self._wake = anyio.Event()
        await self.writer.flush()  # what the stopped tasks handed in is committed before the leases go back
        await self._release(self.owner)
        record = await self.store.get_job(name)
        if record is None or not self._held or self._ended_by_user(record):
            return False
        if not self.worker:
            await self.store.set_job_state(name, JobState.PAUSED, self._message)
            self.bus.emit(Event("job_held", name, f"paused: {self._message}; probing the providers", "warning"))
        delay = PROBE_FIRST_S
        while True:
            with anyio.move_on_after(delay):
                await self._wake.wait()
            record = await self.store.get_job(name) if self._held else None
            if record is None or not self._held or self._ended_by_user(record):
                return False
            delay = min(PROBE_MAX_S, delay * 2)
            if self.worker and record.state is JobState.PAUSED:
                continue  # the main process probes and resumes the job
            resumed = not self.worker and record.state is JobState.RUNNING  # set running by someone else
            if (resumed or await self._probe()) and self._held:
                break
        if not self.worker:
            await self.store.set_job_state(name, JobState.RUNNING, "running")
            self.bus.emit(Event("job_resumed", name, "a provider answers again: work goes on"))
        self._stop, self._message, self._held = None, "", False
        self.record = await self.store.get_job(name) or self.record
        self._work = anyio.CancelScope()
        self._inflight = 0  # the stage's tasks, taken by a slot or not, went back with the leases
        self._stage += 1
        return True

    def _ended_by_user(self, record: JobRecord) -> bool:
        """A user's pause or cancel, or the job ended elsewhere, ends a hold: it is never resumed here."""
        if _held_by_providers(record):
            return False
        self.stop(record.state, record.message or "")
        return True

    async def _probe(self) -> bool:
        """Probe every provider at once; True when one answered. A provider that aborts stops the job."""
        answered = False

        async def one(policy: CallPolicy) -> None:
            nonlocal answered
            try:
                answered = await policy.probe() or answered
            except ProviderAborted as exc:
                cause = redact_text(cause_of(policy.name, str(exc)))
                self.stop(JobState.FAILED, f"provider {policy.name!r} stopped the job: {cause}")

        async with anyio.create_task_group() as group:
            for policy in self.loop.policies.values():
                group.start_soon(one, policy)
        return answered

    async def _write_health(self) -> None:
        """One batched write of this process's health rows; a store that cannot is met again elsewhere."""
        rows = [policy.health(self.spec.name, self.owner) for policy in self.loop.policies.values()]
        with contextlib.suppress(Exception):
            await self.store.record_health(rows)

    async def _guarded(self, stage: Callable[[], Awaitable[None]]) -> None:
        """Run a stage; an error in it fails the job through `stop`, like any other reason to end.

        Raised instead, it would tear down the task group that watches the worker processes, and
        each of them could then only be waited out instead of stopped in order.
        """
        try:
            await stage()
        except Exception as exc:  # a sink, the disk or the store: the job ends failed with this line
            self.stop(JobState.FAILED, describe_failure(exc))

    async def _release(self, owner: str) -> None:
        """Give back `owner`'s leases; a store that cannot must not keep the workers from being stopped.

        What broke is met again (and reported) by the commit or state change that follows; a lease
        left behind is taken back by the next runner, or expires.
        """
        with contextlib.suppress(Exception):
            await self.store.release_all(self.spec.name, owner)

    async def _failed(self, exc: Exception) -> RunOutcome:
        """End the run `failed` on an error: leases back, the job's state and events recorded where the store can."""
        # The reason the run was already ending for comes first: what broke after is often its echo.
        failing = self._stop is JobState.FAILED and self._message
        reason = self._message if failing else describe_failure(exc)
        with anyio.CancelScope(shield=True):
            await self._write_health()
            owners = [self.owner, *(forked.owner for forked in self.forked)]
            # A worker's main process decides the job's state; the worker only gives its leases back.
            mark = not self.worker and self._recorded is not JobState.FAILED
            message = await record_failure(self.store, self.spec.name, owners, reason, mark=mark)
            counts = self._counts
            if not self.worker and message == reason:  # the store took the failure: count and log it too
                self.bus.emit(Event("job_failed", self.spec.name, reason))
                with contextlib.suppress(Exception):  # the state is recorded; the last counts are good enough
                    await self.store.add_events(self.bus.drain())
                    counts = await self.store.counts(self.spec.name)
        accepted, rejected = counts.get(TaskState.ACCEPTED, 0), counts.get(TaskState.REJECTED, 0)
        return RunOutcome(JobState.FAILED, self.target, accepted, rejected, message)

    async def _work_stage(self) -> None:
        tasks: Handoff[Task] = Handoff()
        try:
            with self._work:
                async with anyio.create_task_group() as work:
                    for _ in range(self.slots):
                        work.start_soon(self._slot, tasks)
                    try:
                        await self._feed(tasks)
                    finally:
                        tasks.close()
        except* JobAborted as group:
            self.stop(JobState.FAILED, str(group.exceptions[0]))
        except* NoProviderLeft as group:
            self.hold(str(group.exceptions[0]))
        except* Exception as group:  # a plugin's bug in an attempt: the job ends failed, the workers are stopped
            self.stop(JobState.FAILED, describe_failure(group))

    async def _slot(self, tasks: Handoff[Task]) -> None:
        while (task := await tasks.get()) is not None:
            try:
                await self.loop.run_task(task)
            finally:
                self._inflight -= 1
                self._slot_freed.set()

    async def _feed(self, tasks: Handoff[Task]) -> None:
        """Plan tasks as needed and lease them to the slots, until the job is done or exhausted."""
        planned = self.record.planned
        capacity = self.slots * 2
        # Planning is lazy: pending tasks enough for every process to fill its claims, no more,
        # topped up once half are claimed, so pages stay large.
        counted_at = -COUNTS_MAX_AGE
        while True:
            # Counting scans the job's tasks: while claims keep succeeding, recent counts do,
            # unless the commits since may have reached the target.
            fresh = time.monotonic() - counted_at >= COUNTS_MAX_AGE or self._may_be_done()
            if fresh:
                await self._count()
                counted_at = time.monotonic()
            counts = self._counts
            accepted = counts[TaskState.ACCEPTED]
            if accepted >= self.target:
                self.stop(JobState.DONE)
                return
            if fresh and not self._draining:
                decision = await self._decide(planned)
                if isinstance(decision, Stop) and not self.worker:  # a worker's main process decides
                    self.stop(JobState.FAILED, decision.reason)
                    return
                if isinstance(decision, Pause):
                    self._draining = decision.reason
            if self._draining:  # claim nothing more; pause once the tasks in flight are done
                if self._inflight == 0 and not self.worker:
                    self.stop(JobState.PAUSED, self._draining)
                    return
                await self._wait_for_slot()
                continue
            # Claim before planning more, so the first requests go out once a page is planned.
            # Claims come in pages of at least `slots` tasks: fewer, larger store transactions.
            if self.slots and capacity - self._inflight >= self.slots:
                claimed = await self.store.claim(
                    self.spec.name, self.owner, capacity - self._inflight, self.spec.lease_seconds
                )
                for task in claimed:
                    self._inflight += 1
                    tasks.put(task)
                if claimed:
                    continue
                if not fresh:  # nothing to claim: decide what next on fresh counts only
                    counted_at = -COUNTS_MAX_AGE
                    continue
            pending = counts[TaskState.PENDING]
            open_tasks = pending + counts[TaskState.RUNNING]
            wanted = self.target - accepted - open_tasks
            ahead = capacity * self._processes()  # members join and leave while the job runs
            plans = wanted > 0 and pending * 2 < ahead and planned < self.task_limit and not self.worker
            if plans and await self._plans():
                planned = max(planned, self.record.planned)  # what a planner before this one planned
                # One page tops every process up at once, so none waits for a second page.
                upto = min(planned + wanted, planned + ahead - pending, self.task_limit)
                await self.store.add_tasks(self.spec.name, list(self.planner.seeds(planned, upto)))
                planned = upto
                counted_at = -COUNTS_MAX_AGE
                continue
            await self._wait_for_slot()

    async def _wait_for_slot(self) -> None:
        self._slot_freed = anyio.Event()
        with anyio.move_on_after(0.05):
            await self._slot_freed.wait()

    async def _decide(self, planned: int) -> Decision:
        """Ask the job's rules about where it stands now."""
        counts = self._counts
        if self._budget.capped:
            await self._count_spend()
        return self.control.decide(
            Progress(
                job=self.spec.name,
                target=self.target,
                accepted=counts[TaskState.ACCEPTED],
                rejected=counts[TaskState.REJECTED],
                planned=planned,
                open_tasks=counts[TaskState.PENDING] + counts[TaskState.RUNNING],
                in_flight=self._inflight,
                recent=tuple(self.loop.recent),
                last_rejection=self.loop.last_rejection,
                spend=self._spent() if self._budget.capped else Spend(),
            )
        )

    async def _plans(self) -> bool:
        """Whether this process holds the job's planner role: one process plans, however many work.

        Asked of the store at most once per half lease; a holder that died is reaped (or its lease
        runs out) and the role passes to the next runner that wants to plan.
        """
        now = time.monotonic()
        if now < self._planner_until:
            return True
        if now < self._planner_asked + PLANNER_RETRY_S:  # another process plans: ask again later
            return False
        self._planner_asked = now
        lease = await self.store.acquire_role(self.spec.name, PLANNER_ROLE, self.owner, self.spec.lease_seconds)
        if not lease.held_by(self.owner):
            return False
        if lease.fence != self._planner_fence:  # taken over: plan on from where the last planner stopped
            self.record = await self.store.get_job(self.spec.name) or self.record
        self._planner_fence, self._planner_until = lease.fence, now + self.spec.lease_seconds / 2
        return True

    def _processes(self) -> int:
        """Processes that planning keeps in pending tasks: this one and its forked workers, or the job's members."""
        return max(1 + len(self.forked), self._members)

    def _member(self) -> Member:
        elapsed = max(time.time() - self._started_at, 1e-9)
        return Member(
            job=self.spec.name,
            owner=self.owner,
            host=socket.gethostname(),
            pid=os.getpid(),
            kind="worker" if self.worker else "runner",
            started_at=self._started_at,
            in_flight=self._inflight,
            rate=round(self.loop.accepted / elapsed, 3),
        )

    async def _beat_member(self) -> None:
        """Refresh this process's member row, then take over from members that stopped beating."""
        await self.store.beat_member(self._member())
        if not self.worker:  # the planner keeps every member's claims in pending tasks
            self._members = len(await self.store.members(self.spec.name))
        reaped = await self.store.reap_members(self.spec.name, self.spec.member_timeout_s)
        if reaped:
            self._planner_until = self._planner_asked = -PLANNER_RETRY_S  # the role may be free: ask again
            self._slot_freed.set()  # their tasks are pending again: claim them now
            gone = ", ".join(reaped)
            self.bus.emit(
                Event(
                    "members_reaped",
                    self.spec.name,
                    f"took over from {gone}: silent for "
                    f"{self.spec.member_timeout_s:g} s, their tasks are pending again",
                    "warning",
                )
            )

    async def _leave(self) -> None:
        """Deregister, and hand the planner role back; a store that cannot is met again by the reaper."""
        with contextlib.suppress(Exception):
            await self.store.leave(self.spec.name, self.owner)
            if self._planner_fence is not None:
                await self.store.release_role(self.spec.name, PLANNER_ROLE, self.owner, self._planner_fence)

    async def _control(self) -> None:
        """Watch the store for pause/cancel, renew leases, beat, publish progress and events."""
        last_beat = last_progress = started = time.monotonic()
        last_health = started - HEALTH_INTERVAL  # the first row goes out at once: the others count this process
        peers = Peers(self.loop.policies, self.owner, started)
        self.bus.subscribe("peers", peers.notice)
        member_every = min(MEMBER_BEAT_S, self.spec.member_timeout_s / 4)
        last_member = -member_every
        start_accepted = (await self.store.counts(self.spec.name))[TaskState.ACCEPTED]
        while True:
            await peers.wait(CONTROL_INTERVAL)  # a hold or an opened circuit here wakes it at once
            await self._follow_peers(peers)
            now = time.monotonic()
            # Under a budget the other processes read this spend from the rows: written each tick then.
            if now - last_health >= (0 if self._budget.capped else HEALTH_INTERVAL) or peers.changed():
                await self._write_health()
                last_health = now
            stage = self._stage
            record = await self.store.get_job(self.spec.name)
            # While held, or about a stage that has ended since, the record is `_hold`'s business.
            if record is not None and not self._held and stage == self._stage:
                if record.state is JobState.PAUSED and _held_by_providers(record):
                    # A worker: the main process is held. Whether this tick or the service's own watch
                    # sees the hold first is timing (test_worker_service holds a worker either way).
                    self.hold(record.message or "")  # pragma: no cover - timing decides who sees it
                elif record.state in (JobState.PAUSED, JobState.CANCELLED):
                    self.stop(record.state, record.message or "")
            now = time.monotonic()
            if now - last_member >= member_every:
                await self._beat_member()
                last_member = now
            if now - last_beat >= self.spec.lease_seconds / 3:
                await self.store.heartbeat(self.spec.name, self.owner, self.spec.lease_seconds)
                last_beat = now
            if now - last_progress >= PROGRESS_INTERVAL and self._counts and not self.worker:
                accepted = self._counts[TaskState.ACCEPTED]
                totals = await self.store.attempt_totals(self.spec.name)  # every process's attempts
                errors = await self._provider_errors()
                self.bus.emit(self._progress(accepted, (accepted - start_accepted) / (now - started), totals, errors))
                last_progress = now
            events = self.bus.drain()
            if events:
                await self.store.add_events(events)

    async def _follow_peers(self, peers: Peers) -> None:
        """Share the providers' limits with the job's other processes and follow their holds (one read)."""
        rows = None  # unread: the store is met again (and its failure reported) by the next write
        with contextlib.suppress(Exception):
            rows = await self.store.provider_health(self.spec.name)
        peers.tick(rows, time.time(), time.monotonic())

    async def _provider_errors(self) -> int:
        """Provider failures so far, as the call policies counted them: every process's rows, else this one's."""
        rows = await self.store.provider_health(self.spec.name) or [
            policy.health(self.spec.name, self.owner) for policy in self.loop.policies.values()
        ]
        return sum(sum(row.errors.values()) for row in rows)

    def _progress(self, accepted: int, rate: float, totals: AttemptTotals | None, provider_errors: int = 0) -> Event:
        data: dict[str, JSON] = {
            "accepted": accepted,
            "target": self.target,
            "rejected": self._counts.get(TaskState.REJECTED, 0),
            "running": self._counts.get(TaskState.RUNNING, 0),
            "rate": round(rate, 2),
            "provider_errors": provider_errors,
        }
        if totals is not None:
            # Attempts stored by earlier versions may carry provider errors; the policies count the rest.
            data.update(
                provider_errors=provider_errors + totals.provider_errors, invalid=totals.invalid, cost=totals.cost
            )
        return Event("progress", self.spec.name, data=data)

    async def _signals(self) -> None:
        with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            async for signum in signals:
                name = signal.Signals(signum).name
                await self.store.set_job_state(self.spec.name, JobState.PAUSED, f"interrupted by {name}")
                self.stop(JobState.PAUSED, f"interrupted by {name}")

    async def _finish(self) -> RunOutcome:
        if self.worker:  # the main process decides the job's state and finishes the dataset
            await self.store.add_events(self.bus.drain())
            return RunOutcome(self._stop or JobState.PAUSED, self.target, 0, 0, self._message)
        export = self.export
        assert export is not None  # only a worker runs without one
        # Wait for a holder that is finishing too, or for the lease of one that died to run out.
        dataset = await export.settle(self.spec.lease_seconds + 2 * ROLE_WAIT_MARGIN)
        counts = await self.store.counts(self.spec.name)
        accepted, rejected = counts[TaskState.ACCEPTED], counts[TaskState.REJECTED]
        state = self._stop or JobState.PAUSED
        if state is JobState.DONE or accepted >= self.target:
            state, message = JobState.DONE, f"{accepted} samples accepted"
        else:
            message = self._message or f"{state.value} at {accepted}/{self.target}"
        await self.store.set_job_state(self.spec.name, state, message)
        self._recorded = state
        record = await self.store.get_job(self.spec.name)
        assert record is not None
        await export.finalize(record, counts)
        await export.release()
        kind = {JobState.DONE: "job_done", JobState.FAILED: "job_failed", JobState.CANCELLED: "job_cancelled"}
        self.bus.emit(Event(kind.get(state, "job_paused"), self.spec.name, message))
        await self.store.add_events(self.bus.drain())
        return RunOutcome(state, self.target, accepted, rejected, message, dataset)


def _held_by_providers(record: JobRecord) -> bool:
    """Whether the job runs, or is paused only for want of providers (which a probe may end)."""
    if record.state is JobState.PAUSED:
        return (record.message or "").startswith(UNAVAILABLE)
    return record.state is JobState.RUNNING


def on_commit_waker(export: ExportRole) -> Callable[[list[Pending]], None]:
    """Hand the samples a batch accepted to the exporters, which wakes them."""

    def wake(batch: list[Pending]) -> None:
        accepted = [attrs.evolve(sample, seq=seq) for sample, seq in accepted_in(batch)]
        if accepted:
            export.offer(accepted)

    return wake
