"""`SqlStore`: the StateStore port on SQLAlchemy Core, SQLite or PostgreSQL.

Every method is one short transaction run in a worker thread, one at a time per store (a
CapacityLimiter of 1): SQLite allows one writer anyway, and the engine batches its writes so
a single connection keeps up. Database failures surface as StoreError with one line naming
the (password-masked) URL.
"""

from __future__ import annotations

import functools
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from destilation import (
    AttemptTotals,
    CommitResult,
    Event,
    JobRecord,
    JobState,
    LoggedEvent,
    Member,
    PluginContext,
    ProviderHealth,
    RoleLease,
    Sample,
    SinkCursor,
    StateStore,
    StoreError,
    StoreMissing,
    Task,
    TaskDetail,
    TaskSeed,
    TaskState,
    Transition,
    redact_text,
)
from destilation.domain import JSON
from destilation_sql import commit as committer
from destilation_sql import health, jobs, roles, schema, tasks
from destilation_sql import members as membership
from destilation_sql.coalesce import Coalescer
from destilation_sql.connect import WRITE, make_engine
from destilation_sql.lock import RunnerLock
from destilation_sql.urls import StoreUrl, parse

T = TypeVar("T")

STALE_RETRIES = 3
"""Commit attempts when a concurrent writer slipped a conflicting sample in (PostgreSQL)."""


class SqlStore(StateStore):
    """The state store. `url` is the password-masked URL, safe to show."""

    def __init__(self, url: str, context: PluginContext | None = None) -> None:
        self._target: StoreUrl = parse(url)
        self.url = self._target.shown
        self._context = context
        self._engine: Engine | None = None
        self._limiter: anyio.CapacityLimiter | None = None
        self._hash_lookups = Coalescer(self._stored_hashes)
        self._lock = RunnerLock(self._target.path) if self._target.path is not None else None

    # --- lifecycle ---------------------------------------------------------------------------

    async def open(self, *, create: bool = True) -> None:
        if self._engine is not None:
            return
        self._limiter = anyio.CapacityLimiter(1)
        self._engine = await anyio.to_thread.run_sync(lambda: self._open(create), limiter=self._limiter)

    def _open(self, create: bool) -> Engine:
        if not create and self._target.path is not None and not self._target.path.is_file():
            # Checked before connecting: sqlite3 would create the file (and we its directory).
            raise StoreMissing(f"{self.url} does not exist yet (`destiler run JOB.toml` creates it)")
        engine = make_engine(self._target)
        try:
            with engine.connect() as conn:
                conn.execution_options(**{WRITE: create})
                with conn.begin():
                    schema.ensure(conn, self.url, create=create)
        except SQLAlchemyError as exc:
            engine.dispose()
            raise StoreError(f"{self.url}: cannot open the database: {self._describe(exc)}") from None
        except BaseException:
            engine.dispose()
            raise
        return engine

    async def aclose(self) -> None:
        engine, self._engine = self._engine, None
        with anyio.CancelScope(shield=True):
            if engine is not None:
                await anyio.to_thread.run_sync(engine.dispose, limiter=self._limiter)
            if self._lock is not None:
                # After the connections are gone, so the lock covers every write of this run.
                self._lock.release()

    async def lock_runner(self, job: str, owner: str) -> None:
        """One runner per SQLite file; PostgreSQL lets many workers share a job.

        Holding the SQLite lock proves no other runner is alive, so tasks still leased by a
        runner that died (kill -9) go back to pending, and the roles it held are freed, at once
        instead of waiting out their leases.
        """
        self._require()
        if self._lock is not None:
            self._lock.acquire()
            await self._run(functools.partial(_release_dead, job=job), write=True)

    # --- jobs --------------------------------------------------------------------------------

    async def create_job(self, name: str, spec: dict[str, JSON], target: int) -> JobRecord:
        return await self._run(lambda c: jobs.create_job(c, name, spec, target, time.time()), write=True)

    async def get_job(self, name: str) -> JobRecord | None:
        return await self._run(lambda c: jobs.get_job(c, name))

    async def list_jobs(self) -> list[JobRecord]:
        return await self._run(jobs.list_jobs)

    async def set_job_state(self, name: str, state: JobState, message: str | None = None) -> None:
        if not await self._run(lambda c: jobs.set_job_state(c, name, state, message, time.time()), write=True):
            raise StoreError(f"{self.url} has no job {name!r}")

    async def raise_target(self, name: str, target: int, spec: dict[str, JSON]) -> JobRecord:
        record = await self._run(lambda c: jobs.raise_target(c, name, target, spec, time.time()), write=True)
        if record is None:
            raise StoreError(f"{self.url} has no job {name!r}")
        return record

    async def delete_job(self, name: str) -> bool:
        """Delete the job's rows from every table, refusing while a live runner may hold it.

        On a SQLite file the runner lock decides: taken here, no runner is alive, so a job left
        `running` by a dead one is deleted; held by another process, a job it may be running
        (marked running, or with unexpired leases) is refused. Elsewhere (PostgreSQL, where
        runners share a job) unexpired leases show a live runner.
        """
        self._require()
        lock = self._lock
        if lock is None:
            return await self._run(lambda c: jobs.delete_job(c, name, time.time(), True, None), write=True)
        held = lock.held
        holder = lock.try_acquire()  # taken: no other runner is alive, nothing to check
        try:
            return await self._run(
                lambda c: jobs.delete_job(c, name, time.time(), holder is not None, holder), write=True
            )
        finally:
            if holder is None and not held:
                lock.release()

    # --- tasks -------------------------------------------------------------------------------

    async def add_tasks(self, job: str, seeds: Sequence[TaskSeed]) -> None:
        seeds = list(seeds)
        if not await self._run(lambda c: tasks.add_tasks(c, job, seeds), write=True):
            raise StoreError(f"{self.url} has no job {job!r}; create the job before adding tasks")

    async def claim(self, job: str, owner: str, limit: int, lease_s: float) -> list[Task]:
        return await self._run(lambda c: tasks.claim(c, job, owner, limit, lease_s, time.time()), write=True)

    async def heartbeat(self, job: str, owner: str, lease_s: float) -> None:
        await self._run(lambda c: tasks.heartbeat(c, job, owner, time.time() + lease_s), write=True)

    async def release_all(self, job: str, owner: str) -> None:
        await self._run(lambda c: tasks.release_all(c, job, owner), write=True)

    async def commit(self, owner: str, batch: Sequence[Transition]) -> list[CommitResult]:
        if not batch:
            return []
        batch = list(batch)
        return await self._call(lambda: self._commit(owner, batch))

    def _commit(self, owner: str, batch: list[Transition]) -> list[CommitResult]:
        for _ in range(STALE_RETRIES):
            try:
                return self._transaction(lambda c: committer.commit(c, owner, batch, time.time()), write=True)
            except committer.Stale:
                continue  # rolled back; the next round sees the other writer's samples
        raise StoreError(f"{self.url}: a commit conflicted with concurrent writers {STALE_RETRIES} times; try again")

    async def counts(self, job: str) -> dict[TaskState, int]:
        return await self._run(lambda c: tasks.counts(c, job))

    async def list_tasks(
        self, job: str, state: TaskState | None = None, limit: int = 100, offset: int = 0
    ) -> list[Task]:
        return await self._run(lambda c: tasks.list_tasks(c, job, state, limit, offset))

    async def get_task(self, job: str, index: int) -> TaskDetail | None:
        return await self._run(lambda c: tasks.get_task(c, job, index))

    # --- samples and sinks -------------------------------------------------------------------

    async def has_content_hash(self, job: str, content_hash: str) -> bool:
        return await self._hash_lookups.ask((job, content_hash))

    async def _stored_hashes(self, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
        return await self._run(lambda c: tasks.stored_hashes(c, keys))

    async def samples_after(self, job: str, seq: int, limit: int) -> list[Sample]:
        return await self._run(lambda c: tasks.samples_after(c, job, seq, limit))

    async def get_cursor(self, job: str, sink: str) -> SinkCursor:
        return await self._run(lambda c: jobs.get_cursor(c, job, sink))

    async def set_cursor(self, job: str, sink: str, cursor: SinkCursor, fence: int | None = None) -> bool:
        return await self._run(lambda c: jobs.set_cursor(c, job, sink, cursor, fence), write=True)

    # --- roles -------------------------------------------------------------------------------

    async def acquire_role(self, job: str, role: str, owner: str, lease_s: float) -> RoleLease:
        return await self._run(lambda c: roles.acquire(c, job, role, owner, lease_s, time.time()), write=True)

    async def renew_role(self, job: str, role: str, owner: str, fence: int, lease_s: float) -> bool:
        return await self._run(lambda c: roles.renew(c, job, role, owner, fence, lease_s, time.time()), write=True)

    async def release_role(self, job: str, role: str, owner: str, fence: int) -> None:
        await self._run(lambda c: roles.release(c, job, role, owner, fence), write=True)

    # --- membership --------------------------------------------------------------------------

    async def beat_member(self, member: Member) -> None:
        await self._run(lambda c: membership.beat(c, member, time.time()), write=True)

    async def leave(self, job: str, owner: str) -> None:
        await self._run(lambda c: membership.leave(c, job, owner), write=True)

    async def members(self, job: str | None = None) -> list[Member]:
        return await self._run(lambda c: membership.listed(c, job))

    async def reap_members(self, job: str, timeout_s: float) -> list[str]:
        return await self._run(lambda c: membership.reap(c, job, timeout_s, time.time()), write=True)

    # --- events and statistics ---------------------------------------------------------------

    async def add_events(self, events: Iterable[Event]) -> None:
        batch = list(events)
        if batch:
            await self._run(lambda c: jobs.add_events(c, batch, time.time()), write=True)

    async def list_events(self, job: str | None = None, limit: int = 100) -> list[Event]:
        return await self._run(lambda c: jobs.list_events(c, job, limit))

    async def query_events(
        self,
        job: str,
        *,
        after: int | None = None,
        severities: Sequence[str] | None = None,
        provider: str | None = None,
        limit: int = 100,
    ) -> list[LoggedEvent]:
        chosen = None if severities is None else list(severities)
        return await self._run(lambda c: jobs.query_events(c, job, after, chosen, provider, limit))

    async def record_health(self, rows: Sequence[ProviderHealth]) -> None:
        """One short write transaction for the whole batch (an upsert per row)."""
        batch = list(rows)
        if batch:
            secrets = self._target.secrets
            await self._run(lambda c: health.record(c, batch, time.time(), secrets), write=True)

    async def provider_health(self, job: str) -> list[ProviderHealth]:
        return await self._run(lambda c: health.read(c, job))

    async def provider_stats(self, job: str) -> list[dict[str, Any]]:
        """Per-provider totals of every recorded attempt of `job`, for dashboards.

        Keys: job, provider, requests, failures (attempts not ok), errors (provider call
        failed), latency_s (sum), prompt/completion/reasoning_tokens, cost, last_error, updated_at.
        """
        return await self._run(lambda c: jobs.provider_stats(c, job))

    async def attempt_totals(self, job: str) -> AttemptTotals:
        """Summed from the per-provider statistics every commit keeps up to date."""
        return await self._run(lambda c: jobs.attempt_totals(c, job))

    # --- plumbing ----------------------------------------------------------------------------

    def _require(self) -> Engine:
        if self._engine is None:
            raise StoreError(f"{self.url}: the store is not open; call open() first")
        return self._engine

    async def _run(self, fn: Callable[[Connection], T], *, write: bool = False) -> T:
        return await self._call(lambda: self._transaction(fn, write=write))

    async def _call(self, fn: Callable[[], T]) -> T:
        self._require()
        return await anyio.to_thread.run_sync(fn, limiter=self._limiter)

    def _transaction(self, fn: Callable[[Connection], T], *, write: bool) -> T:
        """Run `fn` in one transaction on the worker thread; database errors become StoreError."""
        engine = self._require()
        try:
            with engine.connect() as conn:
                if write:
                    conn.execution_options(**{WRITE: True})
                with conn.begin():
                    return fn(conn)
        except (SQLAlchemyError, sqlite3.Error) as exc:  # sqlite3's own: bulk writes use its cursor
            raise StoreError(f"{self.url}: {self._describe(exc)}") from exc

    def _describe(self, exc: SQLAlchemyError | sqlite3.Error) -> str:
        return describe(exc, self._target.secrets)


def _release_dead(conn: Connection, job: str) -> None:
    """Hand back what runners of `job` that are known dead held: task leases and roles."""
    tasks.release_all(conn, job, None)
    roles.release_every(conn, job)


def describe(exc: SQLAlchemyError | sqlite3.Error, secrets: Sequence[str | None] = ()) -> str:
    """The driver's message on one line, redacted: the URL's `secrets` too, should a driver echo them."""
    cause: BaseException = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    line = " ".join(str(cause).split()) or type(cause).__name__
    return redact_text(line, [s for s in secrets if s])
