"""Jobs, events, sink cursors (fenced by the exporter role) and provider statistics: the small per-job records.

Plain functions over an open connection inside a transaction; the store runs them in its
worker thread.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from destilation import (
    AttemptTotals,
    Event,
    JobRecord,
    JobRunning,
    JobState,
    LoggedEvent,
    SinkCursor,
    TaskState,
    redact_text,
)
from destilation.domain import JSON
from destilation_sql import codec, roles
from destilation_sql.schema import dialect_insert, events, jobs, metadata, sink_cursors, tasks
from destilation_sql.schema import provider_stats as stats

FINISHED = frozenset({JobState.DONE, JobState.CANCELLED, JobState.FAILED})


def create_job(conn: Connection, name: str, spec: dict[str, JSON], target: int, now: float) -> JobRecord:
    """Insert the job unless it exists; either way return what the store holds."""
    row = {
        "name": name,
        "state": JobState.PENDING.value,
        "target": target,
        "planned": 0,
        "spec": codec.dumps(spec, f"spec of job {name}"),
        "created_at": now,
        "updated_at": now,
        "finished_at": None,
        "message": None,
    }
    conn.execute(dialect_insert(conn.dialect.name, jobs).on_conflict_do_nothing(), row)
    found = get_job(conn, name)
    assert found is not None  # inserted or already there, inside this transaction
    return found


def get_job(conn: Connection, name: str) -> JobRecord | None:
    row = conn.execute(select(jobs).where(jobs.c.name == name)).mappings().first()
    return None if row is None else codec.job_from_row(row)


def list_jobs(conn: Connection) -> list[JobRecord]:
    rows = conn.execute(select(jobs).order_by(jobs.c.created_at, jobs.c.name)).mappings()
    return [codec.job_from_row(r) for r in rows]


def set_job_state(conn: Connection, name: str, state: JobState, message: str | None, now: float) -> bool:
    """Record the state; a finished state stamps `finished_at`, any other clears it (resume)."""
    message = redact_text(message) if message else message  # job messages quote errors: no credential stays
    result = conn.execute(
        update(jobs)
        .where(jobs.c.name == name)
        .values(state=state.value, message=message, updated_at=now, finished_at=now if state in FINISHED else None)
    )
    return bool(result.rowcount)


def raise_target(conn: Connection, name: str, target: int, spec: dict[str, JSON], now: float) -> JobRecord | None:
    """Store the new spec; a higher target replaces the old one and reopens a done job (None: no job)."""
    found = get_job(conn, name)
    if found is None:
        return None
    values: dict[str, Any] = {"spec": codec.dumps(spec, f"spec of job {name}"), "updated_at": now}
    if target > found.target:
        values["target"] = target
        if found.state is JobState.DONE:
            values.update(state=JobState.PENDING.value, finished_at=None, message=f"target raised to {target}")
    conn.execute(update(jobs).where(jobs.c.name == name).values(**values))
    return get_job(conn, name)


def delete_job(conn: Connection, name: str, now: float, check: bool, holder: str | None) -> bool:
    """Delete the job from every table that has a `job` column, then the job; False: no such job.

    With `check`, refuse (JobRunning) while a live runner may hold it: unexpired leases, or,
    when `holder` (another process) holds the SQLite runner lock, a job marked running.
    """
    record = get_job(conn, name)
    if record is None:
        return False
    if check:
        _refuse_if_live(conn, record, now, holder)
    for table in metadata.sorted_tables:
        if "job" in table.c:
            conn.execute(delete(table).where(table.c.job == name))
    conn.execute(delete(jobs).where(jobs.c.name == name))
    return True


def _refuse_if_live(conn: Connection, record: JobRecord, now: float, holder: str | None) -> None:
    name = record.name
    live = tasks.c.state == TaskState.RUNNING.value, tasks.c.lease_expires > now
    leased, until = conn.execute(
        select(func.count(), func.max(tasks.c.lease_expires)).where(tasks.c.job == name, *live)
    ).one()
    if holder is not None:
        if leased or record.state in (JobState.RUNNING, JobState.PENDING):
            raise JobRunning(
                f"job {name!r} is running (destiler pid {holder} holds the store's runner lock): "
                "cancel it first, then delete it"
            )
        # One run per SQLite file: the holder runs another job, or is still winding this one down.
        raise JobRunning(
            f"the store is in use by destiler pid {holder} (one run at a time per SQLite file), which may "
            f"still be finishing job {name!r}: delete it once that run has ended"
        )
    if leased:
        at = dt.datetime.fromtimestamp(until, dt.UTC).strftime("%H:%M:%S UTC")
        raise JobRunning(
            f"job {name!r} is running: {leased} of its tasks are leased by a runner whose heartbeat "
            f"keeps them; cancel it first, then delete it (if that runner died, its leases expire by {at})"
        )


def add_events(conn: Connection, batch: Sequence[Event], now: float) -> None:
    if batch:
        conn.execute(events.insert(), [codec.event_to_row(e, now) for e in batch])


def list_events(conn: Connection, job: str | None, limit: int) -> list[Event]:
    query = select(events).order_by(events.c.id.desc()).limit(limit)
    if job is not None:
        query = query.where(events.c.job == job)
    rows = list(conn.execute(query).mappings())
    rows.reverse()  # newest last
    return [codec.event_from_row(r) for r in rows]


def query_events(
    conn: Connection, job: str, after: int | None, severities: Sequence[str] | None, provider: str | None, limit: int
) -> list[LoggedEvent]:
    """`job`'s matching events, oldest first: the newest `limit`, or the first `limit` after id `after`.

    Each filter is a column of an index that starts with (job, …, id), so a query reads only the
    events it returns plus those it skips within the job.
    """
    c = events.c
    query = select(events).where(c.job == job).limit(max(limit, 0))
    if severities is not None:
        query = query.where(c.severity.in_(list(severities)))
    if provider is not None:
        query = query.where(c.provider == provider)
    if after is not None:
        rows = list(conn.execute(query.where(c.id > after).order_by(c.id)).mappings())
    else:
        rows = list(conn.execute(query.order_by(c.id.desc())).mappings())
        rows.reverse()  # newest last
    return [codec.logged_event_from_row(r) for r in rows]


def get_cursor(conn: Connection, job: str, sink: str) -> SinkCursor:
    query = select(sink_cursors.c.seq, sink_cursors.c.offset, sink_cursors.c.digest).where(
        sink_cursors.c.job == job, sink_cursors.c.sink == sink
    )
    row = conn.execute(query).first()
    return SinkCursor() if row is None else SinkCursor(row.seq, row.offset, row.digest)


def set_cursor(conn: Connection, job: str, sink: str, cursor: SinkCursor, fence: int | None) -> bool:
    """Upsert the cursor; with `fence`, only while the job's exporter role is held under it."""
    if fence is not None and not roles.holds_exporter(conn, job, fence):
        return False
    insert = dialect_insert(conn.dialect.name, sink_cursors)
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=[sink_cursors.c.job, sink_cursors.c.sink],
            set_={"seq": insert.excluded.seq, "offset": insert.excluded.offset, "digest": insert.excluded.digest},
        ),
        {"job": job, "sink": sink, "seq": cursor.seq, "offset": cursor.offset, "digest": cursor.digest},
    )
    return True


def provider_stats(conn: Connection, job: str) -> list[dict[str, Any]]:
    rows = conn.execute(select(stats).where(stats.c.job == job).order_by(stats.c.provider)).mappings()
    return [dict(r) for r in rows]


def attempt_totals(conn: Connection, job: str) -> AttemptTotals:
    c = stats.c
    summed = (func.sum(c.requests), func.sum(c.errors), func.sum(c.failures - c.errors), func.sum(c.cost))
    attempts, errors, invalid, cost = conn.execute(select(*summed).where(c.job == job)).one()
    return AttemptTotals(int(attempts or 0), int(errors or 0), int(invalid or 0), float(cost or 0.0))
