"""The commit of a batch of transitions: one transaction, fenced by lease, deduplicated.

The work is a few set-based statements whatever the batch size: read the leases this owner
holds and the content hashes already stored, decide every transition in batch order in
Python, then write attempts, samples, task states and provider statistics in bulk.

Exactly-once rests on three things here: a transition only touches a task that is still
`running` under this owner (a late result after a lease takeover is dropped); a sample is
inserted with ON CONFLICT DO NOTHING against UNIQUE(job, content_hash) and UNIQUE(job, idx) in
the same transaction that finishes its task; and on PostgreSQL a per-job advisory lock makes
sample `seq` order equal commit order, so an exporter reading by seq never skips a row that
commits late.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs
from sqlalchemy import BigInteger, Connection, Integer, Text, bindparam, exists, func, null, select, text, update
from sqlalchemy.types import TypeEngine

from destilation import Accept, CommitResult, Reject, Release, StoreError, TaskState, Transition
from destilation_sql import bulk, codec
from destilation_sql import tasks as tasks_queries
from destilation_sql.schema import (
    PG_LOCK_CLASS,
    among,
    attempts,
    dialect_insert,
    listed,
    provider_stats,
    samples,
    tasks,
)

RUNNING = TaskState.RUNNING.value
Key = tuple[str, int]


class Stale(Exception):
    """A sample insert met a conflict the pre-check did not see; the transaction is retried."""


@attrs.define
class _Lease:
    """A task this owner holds, as the batch changes it."""

    state: str
    attempts: int
    reasons: str | None = None


def commit(conn: Connection, owner: str, batch: Sequence[Transition], now: float) -> list[CommitResult]:
    """Apply `batch` in order inside the caller's transaction; see the module docstring."""
    wanted: dict[str, set[int]] = {}
    hashes: dict[str, set[str]] = {}
    for t in batch:
        wanted.setdefault(t.task.job, set()).add(t.task.index)
        if isinstance(t, Accept):
            _check_sample_matches(t)
            hashes.setdefault(t.task.job, set()).add(t.sample.content_hash)
    if conn.dialect.name == "postgresql":
        # Sorted, so two writers never wait on each other's locks in opposite orders.
        for job in sorted(hashes):
            conn.execute(text("SELECT pg_advisory_xact_lock(:a, hashtext(:job))"), {"a": PG_LOCK_CLASS, "job": job})
    leases = _leases(conn, owner, wanted)
    seen = _stored_hashes(conn, hashes)

    results: list[CommitResult] = []
    tried: list[dict[str, Any]] = []
    new_samples: list[dict[str, Any]] = []
    accepted_at: dict[Key, int] = {}
    for position, t in enumerate(batch):
        key = (t.task.job, t.task.index)
        attempt = None if isinstance(t, Release) else t.attempt
        if attempt is not None:
            # Every attempt is recorded, even a fenced one: the call happened and cost money.
            tried.append(codec.attempt_to_row(key[0], key[1], attempt, now))
        lease = leases.get(key)
        if lease is None or lease.state != RUNNING:
            results.append(CommitResult(applied=False))
            continue
        if attempt is not None:
            lease.attempts = max(lease.attempts + 1, attempt.number)
        # A Retry changes nothing but the attempt count.
        if isinstance(t, Release):
            lease.state = TaskState.PENDING.value
        elif isinstance(t, Reject):
            lease.state = TaskState.REJECTED.value
            lease.reasons = codec.issues_dumps(t.reasons, f"reasons of task {t.task.key}")
        elif isinstance(t, Accept):
            if (key[0], t.sample.content_hash) in seen:
                # Same content as a stored (or earlier in this batch) sample: the task stays
                # leased so the engine can try again for something new.
                results.append(CommitResult(applied=False, duplicate=True))
                continue
            seen.add((key[0], t.sample.content_hash))
            new_samples.append(codec.sample_to_row(t.sample, now))
            accepted_at[key] = position
            lease.state = TaskState.ACCEPTED.value
        results.append(CommitResult(applied=True))

    if tried:
        bulk.insert(conn, attempts, tried)
        _add_provider_stats(conn, tried, now)
    if new_samples:
        for seq, job, idx in _insert_samples(conn, new_samples):
            results[accepted_at.pop((job, idx))] = CommitResult(applied=True, seq=seq)
        if accepted_at:
            raise Stale(f"{len(accepted_at)} samples conflicted after the duplicate check")
    _write_leases(conn, leases)
    return results


def _check_sample_matches(t: Accept) -> None:
    if (t.sample.job, t.sample.task_index) != (t.task.job, t.task.index):
        raise StoreError(
            f"commit: the sample of task {t.task.key} names task {t.sample.job}/{t.sample.task_index}; "
            "a sample must belong to the task it finishes"
        )


def _leases(conn: Connection, owner: str, wanted: dict[str, set[int]]) -> dict[Key, _Lease]:
    """The tasks of the batch this owner still holds (running, leased to it, no sample yet)."""
    done = exists().where(samples.c.job == tasks.c.job, samples.c.idx == tasks.c.idx)
    query = (
        select(tasks.c.idx, tasks.c.attempts)
        .where(
            tasks.c.job == bindparam("job"),
            among(tasks.c.idx, "idxs", conn.dialect.name),
            tasks.c.lease_owner == owner,
            tasks.c.state == RUNNING,
            ~done,
        )
        .order_by(tasks.c.idx)
    )
    if conn.dialect.name == "postgresql":
        # Lock the rows: a claimer skips them, and a concurrent takeover waits for this commit.
        query = query.with_for_update(of=tasks)
    out: dict[Key, _Lease] = {}
    for job, idxs in sorted(wanted.items()):  # one lock order for every writer
        for idx, tries in conn.execute(query, {"job": job, "idxs": listed(sorted(idxs), conn.dialect.name)}):
            out[(job, idx)] = _Lease(RUNNING, tries)
    return out


def _stored_hashes(conn: Connection, hashes: dict[str, set[str]]) -> set[tuple[str, str]]:
    return tasks_queries.stored_hashes(conn, ((job, h) for job, wanted in hashes.items() for h in wanted))


def _insert_samples(conn: Connection, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Insert samples; only the rows that went in come back, with their seq."""
    return bulk.insert(conn, samples, rows, skip_conflicts=True, returning=("seq", "job", "idx"))


def _write_leases(conn: Connection, leases: dict[Key, _Lease]) -> None:
    """Write the end state of every task the batch changed, by primary key.

    The fence was checked by `_leases` and holds until commit: the rows are locked (FOR UPDATE
    on PostgreSQL, the database write lock taken at BEGIN IMMEDIATE on SQLite). Repeating the
    owner and state conditions here would only mislead PostgreSQL's planner into scanning the
    whole table, since its statistics rarely know how many tasks one owner is running.
    """
    ended: list[dict[str, Any]] = []
    running: list[dict[str, Any]] = []
    # Every lease read was fetched for a transition of this batch, so each one is written.
    for (job, idx), lease in leases.items():
        row = {"k_job": job, "k_idx": idx, "n": lease.attempts}
        if lease.state == RUNNING:
            running.append(row)
        else:
            ended.append({**row, "s": lease.state, "r": lease.reasons})
    key: dict[str, TypeEngine[Any]] = {"k_job": Text(), "k_idx": BigInteger(), "n": Integer()}
    if ended:
        ended_ref, params = bulk.source(conn, {**key, "s": Text(), "r": Text()}, ended)
        bulk.execute_many(
            conn,
            lambda: (
                update(tasks)
                .where(tasks.c.job == ended_ref("k_job"), tasks.c.idx == ended_ref("k_idx"))
                .values(
                    state=ended_ref("s"),
                    attempts=ended_ref("n"),
                    reasons=func.coalesce(ended_ref("r"), tasks.c.reasons),
                    lease_owner=null(),
                    lease_expires=null(),
                )
            ),
            params,
            key="tasks-ended",
        )
    if running:
        running_ref, params = bulk.source(conn, key, running)
        bulk.execute_many(
            conn,
            lambda: (
                update(tasks)
                .where(tasks.c.job == running_ref("k_job"), tasks.c.idx == running_ref("k_idx"))
                .values(attempts=running_ref("n"))
            ),
            params,
            key="tasks-running",
        )


def _add_provider_stats(conn: Connection, tried: list[dict[str, Any]], now: float) -> None:
    """Fold the batch's attempts into per-provider totals, one upsert row per provider."""
    totals: dict[tuple[str, str], dict[str, Any]] = {}
    for a in tried:
        t = totals.get((a["job"], a["provider"]))
        if t is None:
            t = totals[(a["job"], a["provider"])] = {
                "job": a["job"],
                "provider": a["provider"],
                "requests": 0,
                "failures": 0,
                "errors": 0,
                "latency_s": 0.0,
                "prompt_tokens": 0,
                "completion_tokens": 0,
                "reasoning_tokens": 0,
                "cost": 0.0,
                "last_error": None,
                "updated_at": now,
            }
        t["requests"] += 1
        t["failures"] += not a["ok"]
        t["latency_s"] += a["latency_s"]
        t["prompt_tokens"] += a["prompt_tokens"]
        t["completion_tokens"] += a["completion_tokens"]
        t["reasoning_tokens"] += a["reasoning_tokens"]
        t["cost"] += a["cost"] or 0.0
        if a["error"] is not None:
            t["errors"] += 1
            t["last_error"] = a["error"]
    rows = list(totals.values())
    if conn.dialect.name == "sqlite":
        bulk.execute_many(conn, lambda: _stats_upsert(conn.dialect.name, list(rows[0])), rows, key="provider-stats")
    else:
        conn.execute(_stats_upsert(conn.dialect.name, None), rows)


def _stats_upsert(dialect: str, names: list[str] | None) -> Any:
    """Add a batch's totals to each provider's row; `names` spells out the bind parameters for SQLite."""
    insert = dialect_insert(dialect, provider_stats)
    if names is not None:
        insert = insert.values({n: bindparam(n) for n in names})
    old, new = provider_stats.c, insert.excluded
    summed = ("requests", "failures", "errors", "latency_s", "prompt_tokens", "completion_tokens", "reasoning_tokens")
    return insert.on_conflict_do_update(
        index_elements=[old.job, old.provider],
        set_={
            **{name: old[name] + new[name] for name in (*summed, "cost")},
            "last_error": func.coalesce(new.last_error, old.last_error),
            "updated_at": new.updated_at,
        },
    )
