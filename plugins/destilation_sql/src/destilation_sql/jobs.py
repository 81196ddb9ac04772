"""Jobs, events, sink cursors (fenced by the exporter role) and provider statistics: the small per-job records.

Plain functions over an open connection inside a transaction; the store runs them in its
worker thread.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select, update

from destilation import Event, JobRecord, JobState, SinkCursor, redact_text
from destilation.domain import JSON
from destilation_sql import codec, roles
from destilation_sql.schema import dialect_insert, events, jobs, sink_cursors
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
