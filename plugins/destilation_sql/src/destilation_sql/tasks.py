"""Tasks and their leases, plus the read side of samples: planning, claiming, inspecting.

Plain functions over an open connection inside a transaction; the store runs them in its
worker thread.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, bindparam, exists, func, select, update

from destilation import Sample, Task, TaskDetail, TaskSeed, TaskState
from destilation_sql import bulk, codec
from destilation_sql.schema import among, attempts, jobs, listed, samples, tasks

RUNNING = TaskState.RUNNING.value


def add_tasks(conn: Connection, job: str, seeds: Sequence[TaskSeed]) -> bool:
    """Insert new tasks (existing indices stay as they are) and raise `planned`; False: no such job."""
    if seeds:
        rows = [codec.seed_to_row(job, s) for s in seeds]
        bulk.insert(conn, tasks, rows, skip_conflicts=True)
        planned = max(s.index for s in seeds) + 1
        # Two-argument max() is SQLite's greatest().
        larger = func.max if conn.dialect.name == "sqlite" else func.greatest
        result = conn.execute(update(jobs).where(jobs.c.name == job).values(planned=larger(jobs.c.planned, planned)))
        return bool(result.rowcount)
    return conn.execute(select(jobs.c.name).where(jobs.c.name == job)).first() is not None


def claim(conn: Connection, job: str, owner: str, limit: int, lease_s: float, now: float) -> list[Task]:
    """Lease the first `limit` claimable tasks by index: pending ones and expired leases.

    A task that already has a sample is never claimed: its work is done, whatever its state
    says. On PostgreSQL rows another worker is claiming are skipped, never waited for.
    """
    if limit <= 0:
        return []
    done = exists().where(samples.c.job == tasks.c.job, samples.c.idx == tasks.c.idx)
    base = select(tasks).where(tasks.c.job == job, ~done).order_by(tasks.c.idx).limit(limit)
    # Two index-ordered scans instead of one OR, so each walks (job, state, idx) in order.
    queries = [
        base.where(tasks.c.state == TaskState.PENDING.value),
        base.where(tasks.c.state == RUNNING, tasks.c.lease_expires < now),
    ]
    if conn.dialect.name == "postgresql":
        queries = [q.with_for_update(skip_locked=True, of=tasks) for q in queries]
    rows = [r for q in queries for r in conn.execute(q).mappings()]
    rows.sort(key=lambda r: r["idx"])
    rows = rows[:limit]
    if not rows:
        return []
    picked = [r["idx"] for r in rows]
    conn.execute(
        update(tasks)
        .where(tasks.c.job == job, among(tasks.c.idx, "picked", conn.dialect.name))
        .values(state=RUNNING, lease_owner=owner, lease_expires=now + lease_s),
        {"picked": listed(picked, conn.dialect.name)},
    )
    return [codec.task_from_row({**r, "state": RUNNING, "lease_owner": owner}) for r in rows]


def heartbeat(conn: Connection, job: str, owner: str, expires: float) -> None:
    conn.execute(
        update(tasks)
        .where(tasks.c.job == job, tasks.c.lease_owner == owner, tasks.c.state == RUNNING)
        .values(lease_expires=expires)
    )


def release_all(conn: Connection, job: str, owner: str | None) -> None:
    """Return `owner`'s running tasks to pending; every owner's when `owner` is None."""
    held = tasks.c.lease_owner == owner if owner is not None else tasks.c.lease_owner.is_not(None)
    conn.execute(
        update(tasks)
        .where(tasks.c.job == job, held, tasks.c.state == RUNNING)
        .values(state=TaskState.PENDING.value, lease_owner=None, lease_expires=None)
    )


def counts(conn: Connection, job: str) -> dict[TaskState, int]:
    out = dict.fromkeys(TaskState, 0)
    query = select(tasks.c.state, func.count()).where(tasks.c.job == job).group_by(tasks.c.state)
    for state, n in conn.execute(query):
        out[TaskState(state)] = n
    return out


def list_tasks(conn: Connection, job: str, state: TaskState | None, limit: int, offset: int) -> list[Task]:
    query = select(tasks).where(tasks.c.job == job).order_by(tasks.c.idx).limit(limit).offset(offset)
    if state is not None:
        query = query.where(tasks.c.state == state.value)
    return [codec.task_from_row(r) for r in conn.execute(query).mappings()]


def get_task(conn: Connection, job: str, index: int) -> TaskDetail | None:
    row = conn.execute(select(tasks).where(tasks.c.job == job, tasks.c.idx == index)).mappings().first()
    if row is None:
        return None
    tried = conn.execute(
        select(attempts).where(attempts.c.job == job, attempts.c.idx == index).order_by(attempts.c.id)
    ).mappings()
    sample = conn.execute(select(samples).where(samples.c.job == job, samples.c.idx == index)).mappings().first()
    return TaskDetail(
        codec.task_from_row(row),
        tuple(codec.attempt_from_row(a) for a in tried),
        None if sample is None else codec.sample_from_row(sample),
    )


def stored_hashes(conn: Connection, keys: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which (job, content hash) pairs already have a sample: one query per job asked about."""
    by_job: dict[str, set[str]] = {}
    for job, content_hash in keys:
        by_job.setdefault(job, set()).add(content_hash)
    query = select(samples.c.content_hash).where(
        samples.c.job == bindparam("job"), among(samples.c.content_hash, "hashes", conn.dialect.name)
    )
    found: set[tuple[str, str]] = set()
    for job, wanted in by_job.items():
        found.update(
            (job, h) for (h,) in conn.execute(query, {"job": job, "hashes": listed(sorted(wanted), conn.dialect.name)})
        )
    return found


def samples_after(conn: Connection, job: str, seq: int, limit: int) -> list[Sample]:
    query = select(samples).where(samples.c.job == job, samples.c.seq > seq).order_by(samples.c.seq).limit(limit)
    return [codec.sample_from_row(r) for r in conn.execute(query).mappings()]
