"""`MemoryStore`: the whole StateStore port in memory, with the SQL store's exactly-once rules.

For plugin authors and the core's own tests: a job runs end to end without a database. The
rules are the SQL store's, so a test that passes here means the same there: a transition only
applies to a task still `running` under the committing owner with no sample yet; an accepted
sample whose content hash the job already has is not stored (``duplicate=True``) and its task
stays leased; samples get one global, increasing `seq` in commit order; a lease whose time ran
out can be claimed by anyone, after which the first owner's commit is fenced. Like SQLite it
admits one runner per job at a time. Values go in and out as JSON copies, so what a test gets
back is what a database would have kept, and a value the SQL store could not keep is refused
the same way (StoreError).

One method per port method, in the port's order, so new port methods slot in beside them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Sequence

import attrs

from destilation.domain import (
    JSON,
    Attempt,
    Event,
    Issue,
    JobRecord,
    JobState,
    LoggedEvent,
    Member,
    ProviderHealth,
    RoleLease,
    Sample,
    SinkCursor,
    Task,
    TaskSeed,
    TaskState,
)
from destilation.interfaces import (
    EXPORTER_ROLE,
    Accept,
    CommitResult,
    JobRunning,
    Reject,
    Release,
    StateStore,
    StoreError,
    TaskDetail,
    Transition,
)
from destilation.redaction import redact_text, redact_value

FINISHED = frozenset({JobState.DONE, JobState.CANCELLED, JobState.FAILED})


def json_copy(value: JSON, what: str) -> JSON:
    """A copy of `value` as a database would give it back; StoreError when it is not plain JSON."""
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"{what}: cannot be stored as JSON: {exc}") from None


@attrs.define
class _TaskRow:
    """A task as the store holds it; `lease_expires` is a wall-clock time."""

    job: str
    seed: TaskSeed
    state: TaskState = TaskState.PENDING
    attempts: int = 0
    lease_owner: str | None = None
    lease_expires: float | None = None
    reasons: tuple[Issue, ...] = ()
    tried: list[Attempt] = attrs.field(factory=list)

    def task(self) -> Task:
        return Task(self.job, self.seed, self.state, self.attempts, self.lease_owner, self.reasons)


class MemoryStore(StateStore):
    """Every port method over plain dicts. `clock` is the wall clock leases are measured on."""

    def __init__(self, url: str = "memory://", *, clock: Callable[[], float] = time.time) -> None:
        self.url = url
        self.clock = clock
        self.opened = 0
        """How often `open()` was called: each process of a run opens its store once."""
        self.jobs: dict[str, JobRecord] = {}
        self.tasks: dict[str, dict[int, _TaskRow]] = {}
        self.samples: dict[str, dict[int, Sample]] = {}
        """Job → task index → its sample (with `seq`)."""
        self.hashes: dict[str, set[str]] = {}
        self.cursors: dict[tuple[str, str], SinkCursor] = {}
        self.logged: list[LoggedEvent] = []
        """Every stored event with its id, oldest first."""
        self.health: dict[tuple[str, str, str], ProviderHealth] = {}
        """(job, provider, owner) → the latest health row that owner recorded."""
        self.runners: dict[str, str] = {}
        """Job → the owner holding its runner lock, until the store is closed."""
        self.roles: dict[tuple[str, str], RoleLease] = {}
        """(job, role) → its lease; never removed, so a role's fence only grows."""
        self.membership: dict[tuple[str, str], Member] = {}
        """(job, owner) → that member's latest row."""
        self._seq = 0
        self._event_id = 0

    async def open(self, *, create: bool = True) -> None:
        """Memory holds nothing to create: opening only counts, however it is asked."""
        self.opened += 1

    async def aclose(self) -> None:
        """Closing the store ends this process's runs: their runner locks are released."""
        self.runners.clear()

    async def lock_runner(self, job: str, owner: str) -> None:
        holder = self.runners.get(job)
        if holder is not None and holder != owner:
            raise StoreError(f"{self.url}: job {job!r} is being run by {holder}; one runner per job at a time")
        self.runners[job] = owner
        # Holding the lock proves no other runner is alive: their leases and roles go back at once.
        for row in self.tasks.get(job, {}).values():
            if row.state is TaskState.RUNNING:
                row.state, row.lease_owner, row.lease_expires = TaskState.PENDING, None, None
        for key, lease in self.roles.items():
            if key[0] == job:
                self.roles[key] = attrs.evolve(lease, owner=None, expires=0.0)

    async def create_job(self, name: str, spec: dict[str, JSON], target: int) -> JobRecord:
        if name not in self.jobs:
            now = self.clock()
            stored = json_copy(spec, f"spec of job {name}")
            self.jobs[name] = JobRecord(name, JobState.PENDING, target, stored, now, now)
            self.tasks[name], self.samples[name], self.hashes[name] = {}, {}, set()
        return self._job(name)

    async def get_job(self, name: str) -> JobRecord | None:
        return self._job(name) if name in self.jobs else None

    async def list_jobs(self) -> list[JobRecord]:
        return [self._job(r.name) for r in sorted(self.jobs.values(), key=lambda r: (r.created_at, r.name))]

    async def set_job_state(self, name: str, state: JobState, message: str | None = None) -> None:
        if name not in self.jobs:
            raise StoreError(f"{self.url} has no job {name!r}")
        now = self.clock()
        finished = now if state in FINISHED else None
        self.jobs[name] = attrs.evolve(
            self.jobs[name], state=state, message=message, updated_at=now, finished_at=finished
        )

    async def raise_target(self, name: str, target: int, spec: dict[str, JSON]) -> JobRecord:
        if name not in self.jobs:
            raise StoreError(f"{self.url} has no job {name!r}")
        record = attrs.evolve(self.jobs[name], spec=json_copy(spec, f"spec of job {name}"), updated_at=self.clock())
        if target > record.target:
            record = attrs.evolve(record, target=target)
            if record.state is JobState.DONE:
                record = attrs.evolve(
                    record, state=JobState.PENDING, finished_at=None, message=f"target raised to {target}"
                )
        self.jobs[name] = record
        return self._job(name)

    async def delete_job(self, name: str) -> bool:
        if name not in self.jobs:
            return False
        now = self.clock()
        leased = [r for r in self.tasks[name].values() if r.state is TaskState.RUNNING and (r.lease_expires or 0) > now]
        if name in self.runners or leased:
            raise JobRunning(f"job {name!r} is running ({self.runners.get(name) or 'leased tasks'}): cancel it first")
        for table in (self.jobs, self.tasks, self.samples, self.hashes):
            del table[name]
        self.cursors = {key: c for key, c in self.cursors.items() if key[0] != name}
        self.roles = {key: r for key, r in self.roles.items() if key[0] != name}
        self.logged = [e for e in self.logged if e.event.job != name]
        self.health = {key: h for key, h in self.health.items() if key[0] != name}
        self.membership = {key: m for key, m in self.membership.items() if key[0] != name}
        return True

    async def add_tasks(self, job: str, seeds: Sequence[TaskSeed]) -> None:
        if job not in self.jobs:
            raise StoreError(f"{self.url} has no job {job!r}; create the job before adding tasks")
        table = self.tasks[job]
        for seed in seeds:
            if seed.index not in table:
                copied = json_copy({"axes": seed.axes, "row": seed.row}, f"task {job}/{seed.index}")
                table[seed.index] = _TaskRow(job, TaskSeed(seed.index, copied["axes"], copied["row"]))
        if seeds:
            planned = max(self.jobs[job].planned, max(s.index for s in seeds) + 1)
            self.jobs[job] = attrs.evolve(self.jobs[job], planned=planned)

    async def claim(self, job: str, owner: str, limit: int, lease_s: float) -> list[Task]:
        now = self.clock()
        done = self.samples.get(job, {})
        claimed: list[Task] = []
        for index in sorted(self.tasks.get(job, {})):
            if len(claimed) >= limit:
                break
            row = self.tasks[job][index]
            expired = row.state is TaskState.RUNNING and row.lease_expires is not None and row.lease_expires < now
            if index in done or not (row.state is TaskState.PENDING or expired):
                continue
            row.state, row.lease_owner, row.lease_expires = TaskState.RUNNING, owner, now + lease_s
            claimed.append(row.task())
        return claimed

    async def heartbeat(self, job: str, owner: str, lease_s: float) -> None:
        expires = self.clock() + lease_s
        for row in self._held(job, owner):
            row.lease_expires = expires

    async def release_all(self, job: str, owner: str) -> None:
        for row in self._held(job, owner):
            row.state, row.lease_owner, row.lease_expires = TaskState.PENDING, None, None

    async def commit(self, owner: str, batch: Sequence[Transition]) -> list[CommitResult]:
        contents: dict[int, JSON] = {}
        for position, t in enumerate(batch):  # checked before anything changes: the batch is one transaction
            if isinstance(t, Accept):
                if (t.sample.job, t.sample.task_index) != (t.task.job, t.task.index):
                    raise StoreError(
                        f"commit: the sample of task {t.task.key} names task {t.sample.job}/{t.sample.task_index}; "
                        "a sample must belong to the task it finishes"
                    )
                contents[position] = json_copy(t.sample.content, f"sample of task {t.task.key}")
        results: list[CommitResult] = []
        for position, t in enumerate(batch):
            row = self.tasks.get(t.task.job, {}).get(t.task.index)
            attempt = None if isinstance(t, Release) else t.attempt
            if row is not None and attempt is not None:
                row.tried.append(attempt)  # every attempt is kept, fenced or not: the call happened
            # A task with a sample is never `running` here: accepting ends the lease in the same step.
            if row is None or row.state is not TaskState.RUNNING or row.lease_owner != owner:
                results.append(CommitResult(applied=False))
                continue
            if attempt is not None:
                row.attempts = max(row.attempts + 1, attempt.number)
            results.append(self._apply(row, t, contents.get(position)))
        return results

    async def counts(self, job: str) -> dict[TaskState, int]:
        out = dict.fromkeys(TaskState, 0)
        for row in self.tasks.get(job, {}).values():
            out[row.state] += 1
        return out

    async def has_content_hash(self, job: str, content_hash: str) -> bool:
        return content_hash in self.hashes.get(job, set())

    async def samples_after(self, job: str, seq: int, limit: int) -> list[Sample]:
        later = sorted((s for s in self.samples.get(job, {}).values() if _seq(s) > seq), key=_seq)
        return later[:limit]

    async def get_cursor(self, job: str, sink: str) -> SinkCursor:
        return self.cursors.get((job, sink), SinkCursor())

    async def set_cursor(self, job: str, sink: str, cursor: SinkCursor, fence: int | None = None) -> bool:
        if fence is not None:
            lease = self.roles.get((job, EXPORTER_ROLE))
            if lease is None or lease.owner is None or lease.fence != fence:
                return False
        self.cursors[(job, sink)] = cursor
        return True

    async def acquire_role(self, job: str, role: str, owner: str, lease_s: float) -> RoleLease:
        now = self.clock()
        current = self.roles.get((job, role), RoleLease(job, role, None, 0, 0.0))
        if current.owner is not None and current.owner != owner and current.expires >= now:
            return current
        fence = current.fence if current.owner == owner else current.fence + 1
        self.roles[(job, role)] = lease = RoleLease(job, role, owner, fence, now + lease_s)
        return lease

    async def renew_role(self, job: str, role: str, owner: str, fence: int, lease_s: float) -> bool:
        current = self.roles.get((job, role))
        if current is None or current.owner != owner or current.fence != fence:
            return False
        self.roles[(job, role)] = attrs.evolve(current, expires=self.clock() + lease_s)
        return True

    async def release_role(self, job: str, role: str, owner: str, fence: int) -> None:
        current = self.roles.get((job, role))
        if current is not None and current.owner == owner and current.fence == fence:
            self.roles[(job, role)] = attrs.evolve(current, owner=None, expires=0.0)

    async def list_tasks(
        self, job: str, state: TaskState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Task]:
        rows = [r for _, r in sorted(self.tasks.get(job, {}).items()) if state is None or r.state is state]
        return [r.task() for r in rows[offset : offset + limit]]

    async def get_task(self, job: str, index: int) -> TaskDetail | None:
        row = self.tasks.get(job, {}).get(index)
        if row is None:
            return None
        return TaskDetail(row.task(), tuple(row.tried), self.samples[job].get(index))

    async def record_health(self, rows: Sequence[ProviderHealth]) -> None:
        for row in rows:
            what = f"health of provider {row.provider} in job {row.job}"
            copied = json_copy({"errors": row.errors, "details": redact_value(row.details)}, what)
            error = None if row.last_error is None else redact_text(row.last_error)
            stored = attrs.evolve(
                row,
                errors=copied["errors"],
                details=copied["details"],
                last_error=error,
                updated_at=row.updated_at or self.clock(),
            )
            self.health[(row.job, row.provider, row.owner)] = stored

    async def provider_health(self, job: str) -> list[ProviderHealth]:
        return [row for key, row in sorted(self.health.items()) if key[0] == job]

    async def beat_member(self, member: Member) -> None:
        key = (member.job, member.owner)
        known = self.membership.get(key)
        started = member.started_at if known is None else known.started_at  # a beat never moves the start
        self.membership[key] = attrs.evolve(member, started_at=started, heartbeat_at=self.clock())

    async def leave(self, job: str, owner: str) -> None:
        self.membership.pop((job, owner), None)

    async def members(self, job: str | None = None) -> list[Member]:
        found = [m for m in self.membership.values() if job is None or m.job == job]
        return sorted(found, key=lambda m: (m.job, m.started_at, m.owner))

    async def reap_members(self, job: str, timeout_s: float) -> list[str]:
        oldest = self.clock() - timeout_s
        dead = sorted(m.owner for m in self.membership.values() if m.job == job and m.heartbeat_at < oldest)
        for owner in dead:
            del self.membership[(job, owner)]
            await self.release_all(job, owner)
            for key, lease in self.roles.items():
                if key[0] == job and lease.owner == owner:
                    self.roles[key] = attrs.evolve(lease, owner=None, expires=0.0)
        return dead

    async def add_events(self, events: Iterable[Event]) -> None:
        now = self.clock()
        for event in events:
            data = json_copy(event.data, f"event {event.kind} of job {event.job}") if event.data else {}
            self._event_id += 1
            self.logged.append(LoggedEvent(self._event_id, attrs.evolve(event, data=data, at=event.at or now)))

    async def list_events(self, job: str | None = None, limit: int = 100) -> list[Event]:
        found = [e.event for e in self.logged if job is None or e.event.job == job]
        return found[-limit:] if limit > 0 else []

    async def query_events(
        self,
        job: str,
        *,
        after: int | None = None,
        severities: Sequence[str] | None = None,
        provider: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        found = [
            e
            for e in self.logged
            if e.event.job == job
            and (after is None or e.id > after)
            and (severities is None or e.event.severity in severities)
            and (provider is None or e.event.provider == provider)
        ]
        if limit <= 0:
            return []
        return found[:limit] if after is not None else found[-limit:]

    @property
    def events(self) -> list[Event]:
        """Every stored event, oldest first (without ids)."""
        return [e.event for e in self.logged]

    # --- plumbing ----------------------------------------------------------------------------

    def _job(self, name: str) -> JobRecord:
        record = self.jobs[name]
        return attrs.evolve(record, spec=json_copy(record.spec, f"spec of job {name}"))

    def _held(self, job: str, owner: str) -> list[_TaskRow]:
        return [r for r in self.tasks.get(job, {}).values() if r.state is TaskState.RUNNING and r.lease_owner == owner]

    def _apply(self, row: _TaskRow, t: Transition, content: JSON) -> CommitResult:
        """One fenced transition on a task this owner holds."""
        if isinstance(t, Release):
            row.state, row.lease_owner, row.lease_expires = TaskState.PENDING, None, None
        elif isinstance(t, Reject):
            row.state, row.lease_owner, row.lease_expires = TaskState.REJECTED, None, None
            row.reasons = t.reasons or row.reasons  # no reasons given: the earlier ones stay
        elif isinstance(t, Accept):
            hashes = self.hashes[row.job]
            if t.sample.content_hash in hashes:
                # Same content as a stored sample: the task stays leased, to be tried again.
                return CommitResult(applied=False, duplicate=True)
            self._seq += 1
            self.samples[row.job][row.seed.index] = attrs.evolve(t.sample, content=content, seq=self._seq)
            hashes.add(t.sample.content_hash)
            row.state, row.lease_owner, row.lease_expires = TaskState.ACCEPTED, None, None
            return CommitResult(applied=True, seq=self._seq)
        return CommitResult(applied=True)  # a Retry changes only the attempt count


def _seq(sample: Sample) -> int:
    return sample.seq or 0
