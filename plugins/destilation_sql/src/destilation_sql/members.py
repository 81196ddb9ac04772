"""Members: the processes working a job, their heartbeats, and the takeover of dead ones.

Plain functions over an open connection inside a transaction; the store runs them in its
worker thread. Reaping frees a dead member's task leases and roles in the same transaction that
removes its row, so a task is never both pending and held by a member still listed.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update

from destilation import Member
from destilation_sql import tasks
from destilation_sql.schema import dialect_insert, members, roles

FIELDS = ("host", "pid", "kind", "started_at", "heartbeat_at", "in_flight", "rate")


def beat(conn: Connection, member: Member, now: float) -> None:
    """Insert the member's row or refresh it, with its heartbeat stamped `now`."""
    row = {"job": member.job, "owner": member.owner, **{f: getattr(member, f) for f in FIELDS}, "heartbeat_at": now}
    insert = dialect_insert(conn.dialect.name, members)
    changed = {f: insert.excluded[f] for f in FIELDS if f not in ("started_at",)}
    conn.execute(insert.on_conflict_do_update(index_elements=["job", "owner"], set_=changed), row)


def leave(conn: Connection, job: str, owner: str) -> None:
    conn.execute(delete(members).where(members.c.job == job, members.c.owner == owner))


def listed(conn: Connection, job: str | None) -> list[Member]:
    query = select(members).order_by(members.c.job, members.c.started_at, members.c.owner)
    if job is not None:
        query = query.where(members.c.job == job)
    return [Member(r["job"], r["owner"], **{f: r[f] for f in FIELDS}) for r in conn.execute(query).mappings()]


def reap(conn: Connection, job: str, timeout_s: float, now: float) -> list[str]:
    """Remove the members of `job` silent for `timeout_s`, freeing their tasks and roles; their owners."""
    query = select(members.c.owner).where(members.c.job == job, members.c.heartbeat_at < now - timeout_s)
    if conn.dialect.name == "postgresql":
        # Two members reaping the same dead one at once: one does it, the other skips its row.
        query = query.with_for_update(skip_locked=True)
    dead = sorted(owner for (owner,) in conn.execute(query))
    for owner in dead:
        leave(conn, job, owner)
        tasks.release_all(conn, job, owner)
        conn.execute(update(roles).where(roles.c.job == job, roles.c.owner == owner).values(owner=None, expires=0.0))
    return dead
