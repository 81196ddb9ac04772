"""One refresh's worth of what the store says, read with aggregates and paged queries only.

Every number the dashboard shows comes from here, so the cost of a refresh is the cost of this
module's queries: per job one `counts`, one `attempt_totals` and one `provider_health` (each an
aggregate over indexed rows), plus at most one page of tasks, one task and one page of events.
"""

from __future__ import annotations

import time

import attrs

from destilation.domain import Event, JobRecord, ProviderHealth, Task, TaskState
from destilation.interfaces import AttemptTotals, StateStore, TaskDetail

TASK_PAGE = 200
"""Tasks read per refresh for the task list and the per-axis breakdown: a page, never the table."""
EVENT_PAGE = 200
"""Newest events read per refresh for the log view."""


@attrs.frozen
class JobView:
    """A job with its aggregates."""

    record: JobRecord
    counts: dict[TaskState, int]
    totals: AttemptTotals | None = None
    health: tuple[ProviderHealth, ...] = ()

    @property
    def name(self) -> str:
        return self.record.name

    @property
    def accepted(self) -> int:
        return self.counts.get(TaskState.ACCEPTED, 0)

    @property
    def finished(self) -> int:
        """Tasks that reached an end: accepted or rejected."""
        return self.accepted + self.counts.get(TaskState.REJECTED, 0)


@attrs.frozen
class WorkerRow:
    """One process working a job, from the store's member rows (`StateStore.members`)."""

    host: str
    pid: int
    state: str
    in_flight: int = 0
    samples_per_s: float | None = None
    heartbeat_at: float = 0.0


@attrs.frozen
class Wanted:
    """What the view on screen needs beyond the job list; everything else is not read."""

    job: str | None = None
    tasks: bool = False
    task_state: TaskState | None = None
    task_offset: int = 0
    task: int | None = None
    events: bool = False
    event_job: str | None = None


@attrs.frozen
class Snapshot:
    at: float
    jobs: tuple[JobView, ...] = ()
    tasks: tuple[Task, ...] = ()
    task: TaskDetail | None = None
    events: tuple[Event, ...] = ()
    workers: tuple[WorkerRow, ...] | None = None
    """The members of the job in view, read with its tasks; None when no job's tasks are shown."""

    def job(self, name: str | None) -> JobView | None:
        return next((j for j in self.jobs if j.name == name), None)


async def read_job(store: StateStore, record: JobRecord) -> JobView:
    counts = await store.counts(record.name)
    totals = await store.attempt_totals(record.name)
    health = await store.provider_health(record.name)
    return JobView(record, dict(counts), totals, tuple(health))


async def read_snapshot(store: StateStore, wanted: Wanted) -> Snapshot:
    """Everything one refresh shows, for the view described by `wanted`."""
    jobs = tuple([await read_job(store, record) for record in await store.list_jobs()])
    tasks: tuple[Task, ...] = ()
    task: TaskDetail | None = None
    events: tuple[Event, ...] = ()
    workers: tuple[WorkerRow, ...] | None = None
    if wanted.job is not None and any(j.name == wanted.job for j in jobs):
        if wanted.tasks:
            tasks = tuple(await store.list_tasks(wanted.job, wanted.task_state, TASK_PAGE, wanted.task_offset))
            workers = tuple(
                WorkerRow(m.host, m.pid, m.kind, m.in_flight, m.rate, m.heartbeat_at)
                for m in await store.members(wanted.job)
            )
        if wanted.task is not None:
            task = await store.get_task(wanted.job, wanted.task)
    if wanted.events:
        events = tuple(await store.list_events(wanted.event_job, EVENT_PAGE))
    return Snapshot(time.time(), jobs, tasks, task, events, workers)
