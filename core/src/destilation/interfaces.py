"""Ports: the interfaces every plugin object implements.

Objects that hold I/O are anyio `AsyncResource`s (``aclose()`` and ``async with``). Factories
registered through the hooks receive ``(config, context)`` and return one of these.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
from anyio.abc import AsyncResource

from destilation.domain import (
    JSON,
    Attempt,
    Candidate,
    Event,
    Generation,
    GenerationRequest,
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
    Verdict,
)
from destilation.errors import DestilationError, JobError

if TYPE_CHECKING:
    from destilation.http import HttpClient
    from destilation.templates import Template


@attrs.frozen
class ProviderInfo:
    """What a provider is and can do; routers read `capabilities`."""

    name: str
    kind: str
    model: str
    capabilities: frozenset[str] = frozenset()
    concurrency: int = 8
    weight: float = 1.0


@attrs.define
class PluginContext:
    """What a factory may use: shared HTTP client maker, the event emitter, the data dir."""

    data_dir: str
    emit: Callable[[Event], None]
    http_client: Callable[..., HttpClient]
    """Build an httpx client on the fast transport (`make_http_client`); tests inject a transport here."""
    secrets: dict[str, str] = attrs.field(factory=dict, repr=False)
    verbosity: int = 0
    """What the person asked to see: -1 only the result (``-q``), 0 progress, 1 each provider error too (``-v``)."""
    job: str = ""
    """The job these plugins serve, for the events they emit ("" outside a job, e.g. `destiler check`)."""


class Provider(AsyncResource):
    """A model source. `generate` returns the raw answer; it never validates content."""

    @abc.abstractmethod
    def info(self) -> ProviderInfo: ...

    @abc.abstractmethod
    async def models(self) -> list[str]: ...

    @abc.abstractmethod
    async def generate(self, request: GenerationRequest) -> Generation: ...

    def health_details(self) -> dict[str, JSON]:
        """Provider-specific state for its health row (e.g. ``{"structured_output": "json_object"}``)."""
        return {}

    async def probe(self, request: GenerationRequest) -> str:
        """Send one small request and say in a few words what this provider settled on.

        `destiler check --probe` prints it; a provider that adapts to its server (structured
        output modes) says which mode it took. Raises ProviderError like `generate`.
        """
        generation = await self.generate(request)
        return f"answered as {generation.model}"

    async def aclose(self) -> None:
        """Providers without I/O have nothing to close."""


class ProviderError(Exception):
    """A provider call failed. `retryable`, `retry_after`, `status` and `fatal` steer the call policy.

    `fatal` says the provider itself is broken for the whole job, not this one request (a
    program that cannot start, a server that lacks every model): the job stops with the reason,
    as for a bad key, instead of each task being refused in turn.
    """

    def __init__(
        self,
        message: str,
        *,
        retryable: bool = True,
        retry_after: float | None = None,
        status: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status
        self.fatal = fatal


@runtime_checkable
class ProviderPort(Protocol):
    """A named provider of the job, called through its call policy (paced, retried, cost counted).

    What a judge or any validator that needs a model uses: ``await providers.generate("grader",
    request)``. Raises what the engine's own calls raise when the provider gives up (the job
    holds or stops as for any other request); `names` lists the providers that can be named.
    """

    def names(self) -> Sequence[str]: ...

    async def generate(self, provider: str, request: GenerationRequest) -> Generation: ...


@attrs.frozen
class ValidationContext:
    """What a validator may look at besides the candidate."""

    job: str
    template: Template
    store: StateStore
    fingerprint: Callable[[JSON], str]
    """The dedup key of parsed content (the ``fingerprint`` hook's answer)."""
    providers: ProviderPort | None = None
    """The job's providers by name (None where no job runs, e.g. a validator's unit test)."""


class Validator(Protocol):
    """Checks one candidate. Pure and cheap where it can be; a judge may call a provider.

    A validator that holds resources may also define ``async open(context: ValidationContext)``
    (called once per process before the first check) and ``async aclose()`` (called once when
    the run ends); the engine calls them only where they exist. ``destiler check`` opens and
    closes them too, with providers that list their names but send no request, so what `open`
    refuses (a ConfigError, say) is found before a run. A validator that asks a provider hands
    the answers back in ``Verdict.calls``, so their usage and cost count in the attempt's.
    """

    name: str

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict: ...


@runtime_checkable
class Router(Protocol):
    """Picks a provider for a task among the healthy candidates."""

    def choose(self, task: Task, candidates: Sequence[ProviderInfo]) -> ProviderInfo: ...

    def observe(self, provider: str, ok: bool, latency_s: float) -> None: ...


@attrs.frozen
class Accept:
    """Finish a task with its sample, fenced by attempt and lease owner."""

    task: Task
    attempt: Attempt
    sample: Sample


@attrs.frozen
class Retry:
    """Record a failed attempt; the task stays leased and will be tried again."""

    task: Task
    attempt: Attempt


@attrs.frozen
class Reject:
    """Record the last failed attempt and give up on the task, keeping its reasons."""

    task: Task
    attempt: Attempt | None
    reasons: tuple[Issue, ...]


@attrs.frozen
class Release:
    """Hand a leased task back to pending (pause, Ctrl-C), keeping its attempt count."""

    task: Task


Transition = Accept | Retry | Reject | Release


@attrs.frozen
class CommitResult:
    """What became of one transition. `applied` is False when the fence dropped it."""

    applied: bool
    seq: int | None = None
    duplicate: bool = False


@attrs.frozen
class TaskDetail:
    task: Task
    attempts: tuple[Attempt, ...]
    sample: Sample | None


EXPORTER_ROLE = "exporter"
"""The role whose holder writes a job's dataset files; `StateStore.set_cursor` is fenced by it."""

PLANNER_ROLE = "planner"
"""The role whose holder plans a job's tasks: one process adds them, whatever number work them."""


@attrs.frozen
class AttemptTotals:
    """Every recorded attempt of a job, from every process and run: what progress shows as errors and cost."""

    attempts: int = 0
    provider_errors: int = 0
    """Attempts whose provider call failed (HTTP errors, timeouts)."""
    invalid: int = 0
    """Attempts whose answer came back but failed validation."""
    cost: float = 0.0


class StoreError(DestilationError):
    """The store cannot serve: a bad URL, a schema of another version, a busy SQLite file."""


class StoreMissing(StoreError):
    """`open(create=False)` found no store: no database file, or a database without our schema.

    Read and steer commands open that way, so looking never creates a database.
    """


class JobRunning(JobError):
    """`delete_job` refused: a live runner may hold the job. The message says what shows it is alive."""


class StateStore(AsyncResource):
    """The truth about jobs, tasks, attempts, samples, sink cursors and events.

    Every method is a short transaction. `commit` applies a batch of transitions in one
    transaction; an `Accept` whose content hash already exists in the job is not applied and
    comes back with ``duplicate=True``.
    """

    url: str

    @abc.abstractmethod
    async def open(self, *, create: bool = True) -> None:
        """Create or check the schema; raise StoreError with one clear line when it cannot.

        With ``create=False`` nothing is created (no file, no directory, no table): a store that
        does not exist yet raises `StoreMissing`. Only `destiler run` creates a store.
        """
        ...

    @abc.abstractmethod
    async def lock_runner(self, job: str, owner: str) -> None:
        """Claim the right to run `job`; on SQLite a second runner gets StoreError.

        A store that admits only one runner also returns tasks leased by earlier, dead runners
        to pending and frees the roles they held, so a resume after kill -9 does not wait for
        their leases to expire.
        """
        ...

    @abc.abstractmethod
    async def create_job(self, name: str, spec: dict[str, JSON], target: int) -> JobRecord: ...

    @abc.abstractmethod
    async def get_job(self, name: str) -> JobRecord | None: ...

    @abc.abstractmethod
    async def list_jobs(self) -> list[JobRecord]: ...

    @abc.abstractmethod
    async def set_job_state(self, name: str, state: JobState, message: str | None = None) -> None: ...

    @abc.abstractmethod
    async def raise_target(self, name: str, target: int, spec: dict[str, JSON]) -> JobRecord:
        """Store `spec` as the job's spec and raise its target to `target`, in one transaction.

        For a job file whose `count` went up (`run` with 200 more): the target never goes down,
        and a done job whose target rises becomes pending again, so the next run plans and works
        the new tasks. Raise StoreError when there is no such job.
        """
        ...

    @abc.abstractmethod
    async def delete_job(self, name: str) -> bool:
        """Remove the job and everything of it (tasks, attempts, samples, cursors, events, statistics).

        One transaction: afterwards nothing of the job is left and other jobs are untouched.
        Returns False when there was no such job. Raises `JobRunning` while a live runner may
        hold the job (its runner lock is taken, or tasks are leased with unexpired heartbeats);
        a job marked running whose runner is provably dead (SQLite: the lock is free) is deleted.
        """
        ...

    @abc.abstractmethod
    async def add_tasks(self, job: str, seeds: Sequence[TaskSeed]) -> None:
        """Insert tasks idempotently and raise the job's `planned` counter."""
        ...

    @abc.abstractmethod
    async def claim(self, job: str, owner: str, limit: int, lease_s: float) -> list[Task]:
        """Lease up to `limit` pending tasks, or running ones whose lease expired."""
        ...

    @abc.abstractmethod
    async def heartbeat(self, job: str, owner: str, lease_s: float) -> None: ...

    @abc.abstractmethod
    async def release_all(self, job: str, owner: str) -> None:
        """Return every task `owner` holds to pending."""
        ...

    @abc.abstractmethod
    async def commit(self, owner: str, batch: Sequence[Transition]) -> list[CommitResult]: ...

    @abc.abstractmethod
    async def counts(self, job: str) -> dict[TaskState, int]: ...

    @abc.abstractmethod
    async def has_content_hash(self, job: str, content_hash: str) -> bool: ...

    @abc.abstractmethod
    async def samples_after(self, job: str, seq: int, limit: int) -> list[Sample]: ...

    @abc.abstractmethod
    async def get_cursor(self, job: str, sink: str) -> SinkCursor: ...

    @abc.abstractmethod
    async def set_cursor(self, job: str, sink: str, cursor: SinkCursor, fence: int | None = None) -> bool:
        """Record how far `sink` of `job` is durable (seq, offset and digest); True when recorded.

        With `fence`, the cursor is written only while the job's `EXPORTER_ROLE` is held under
        that fence, checked in the same transaction; otherwise nothing changes and False comes
        back, so a process that lost the role can never move the cursor. Without it (tools,
        tests) the write is unconditional.
        """
        ...

    # --- roles: leases that make one process the exporter (or planner) of a job -------------

    @abc.abstractmethod
    async def acquire_role(self, job: str, role: str, owner: str, lease_s: float) -> RoleLease:
        """Take `role` of `job` for `owner` for `lease_s` seconds, or learn who holds it.

        The role is taken when it is free (never held, released) or its lease has expired, and
        its fence then grows by one. Held by `owner` already, its lease is extended and the fence
        kept. Held by another owner whose lease runs, nothing changes. Atomic against callers in
        any process: at most one owner holds a role at a time. Returns the role as it stands
        after the call; ``lease.held_by(owner)`` tells whether the caller holds it.
        """
        ...

    @abc.abstractmethod
    async def renew_role(self, job: str, role: str, owner: str, fence: int, lease_s: float) -> bool:
        """Extend `owner`'s lease on `role` to `lease_s` from now, if it still holds it under `fence`.

        False when the role was released or changed hands since: the caller has lost it and must
        stop acting in it (an expired lease nobody took yet is still the caller's).
        """
        ...

    @abc.abstractmethod
    async def release_role(self, job: str, role: str, owner: str, fence: int) -> None:
        """Free `role` if `owner` holds it under `fence` (else nothing); the fence only ever grows."""
        ...

    @abc.abstractmethod
    async def list_tasks(
        self, job: str, state: TaskState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Task]: ...

    @abc.abstractmethod
    async def get_task(self, job: str, index: int) -> TaskDetail | None: ...

    async def attempt_totals(self, job: str) -> AttemptTotals | None:
        """Totals over every attempt recorded for `job`, read for progress twice a second.

        None (the default) when the store keeps none; progress then shows no error or cost figures.
        """
        return None

    async def record_health(self, rows: Sequence[ProviderHealth]) -> None:
        """Store each row, replacing the one of the same (job, provider, owner); at least once a second.

        The default keeps nothing: a store without health support still runs jobs, and readers
        show "no data".
        """

    async def provider_health(self, job: str) -> list[ProviderHealth]:
        """Every health row of `job`, from every process that worked it (none by default)."""
        return []

    # --- membership: the processes working a job, and the takeover of dead ones ---------------

    async def beat_member(self, member: Member) -> None:
        """Register `member` or refresh its row (keyed by job and owner), stamping its heartbeat now.

        The default keeps nothing: such a store runs jobs as before, and a dead process's tasks
        wait out their leases.
        """

    async def leave(self, job: str, owner: str) -> None:
        """Remove `owner`'s member row of `job` (a process that ends cleanly); nothing if there is none."""

    async def members(self, job: str | None = None) -> list[Member]:
        """The registered members of `job` (of every job when None), by job then start time."""
        return []

    async def reap_members(self, job: str, timeout_s: float) -> list[str]:
        """Take over from members of `job` that have not beaten for `timeout_s` seconds; their owners.

        In one transaction each such member's row goes, its running tasks go back to pending and
        the roles it held are freed (their fences grow when next taken), so live members claim
        its work at once. A reaped member that was only slow finds its leases gone: its commits
        are refused by their fences, as after a lease expired.
        """
        return []

    @abc.abstractmethod
    async def add_events(self, events: Iterable[Event]) -> None: ...

    @abc.abstractmethod
    async def list_events(self, job: str | None = None, limit: int = 100) -> list[Event]: ...

    async def query_events(
        self,
        job: str,
        *,
        after: int | None = None,
        severities: Sequence[str] | None = None,
        provider: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent] | None:
        """`job`'s events with their ids, oldest first, for `destiler logs`; None when the store keeps no ids.

        Without `after`: the newest `limit` events that match. With it: the oldest `limit` that
        match and came after the event of id `after` (what ``--follow`` polls for). Only events
        whose severity is in `severities` (when given) and of `provider` (when given) match. The
        default returns None: `logs` then filters `list_events` itself and cannot follow.
        """
        return None


class Sink(AsyncResource):
    """A dataset projection of the store, written in commit order with a durable cursor."""

    @abc.abstractmethod
    async def open(self, cursor: SinkCursor) -> SinkCursor:
        """Repair the output to `cursor` (cut what lies past it) and return where to go on from.

        Return ``SinkCursor()`` (seq 0, offset 0) when the output was missing, shorter than the
        cursor or its content up to the cursor does not match ``cursor.digest``, so the exporter
        rebuilds it from the store. Only the holder of the job's `EXPORTER_ROLE` opens a sink;
        it closes the sink (``aclose``) when it hands the role back, and may open it again later,
        so ``aclose`` must leave the sink ready for another `open` and may be called twice.
        """
        ...

    def digest(self) -> str:
        """A digest of the output up to the offset `open` or `write` last returned.

        The exporter stores it with the cursor, so the next `open` can prove the content and not
        only the size. A sink that keeps none returns "".
        """
        return ""

    @abc.abstractmethod
    async def write(self, samples: Sequence[Sample]) -> int:
        """Append samples durably (flushed and fsynced) and return the new byte offset."""
        ...

    @abc.abstractmethod
    async def finalize(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
        """Write side files (metadata, dataset card)."""
        ...


class Subscriber(Protocol):
    """Receives events; must return quickly and never raise into the engine."""

    def __call__(self, event: Event) -> None: ...


StoreFactory = Callable[[str, PluginContext], StateStore]
SinkFactory = Callable[[Any, PluginContext, JobRecord], Sink]


# --- what the registration hooks take: the factory of each kind ------------------------------

ProviderFactory = Callable[[Any, PluginContext, ProviderInfo], Provider]
"""``factory(config, context, info)``; `config` is an instance of the class registered with it, or None."""
ValidatorFactory = Callable[[Any, PluginContext], Validator]
RouterFactory = Callable[[Any, PluginContext], Router]
SubscriberFactory = Callable[[PluginContext], Callable[[Event], object] | None]
"""Returns the subscriber, or None to stay out of this run (a progress bar without a terminal)."""
