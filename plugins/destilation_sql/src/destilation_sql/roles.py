"""Role leases (exporter, planner): one holder per job and role, fenced like task leases.

A role's row is never deleted, so its fence only grows: every change of hands adds one, and a
write fenced by an older value is refused. On PostgreSQL the row is locked (``FOR UPDATE`` to
take it, ``FOR SHARE`` to fence a cursor write), so a takeover and a fenced write never
interleave; SQLite write transactions are serial anyway (``BEGIN IMMEDIATE``).

Plain functions over an open connection inside a write transaction; the store runs them in its
worker thread.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, select, update

from destilation import EXPORTER_ROLE, RoleLease
from destilation_sql.schema import dialect_insert, roles


def _where(job: str, role: str) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return roles.c.job == job, roles.c.role == role


def acquire(conn: Connection, job: str, role: str, owner: str, lease_s: float, now: float) -> RoleLease:
    """Take the role when free or expired, extend it when `owner` holds it; return it as it stands."""
    conn.execute(
        dialect_insert(conn.dialect.name, roles).on_conflict_do_nothing(),
        {"job": job, "role": role, "owner": None, "fence": 0, "expires": 0.0},
    )
    query = select(roles.c.owner, roles.c.fence, roles.c.expires).where(*_where(job, role))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    current = conn.execute(query).one()
    if current.owner is not None and current.owner != owner and current.expires >= now:
        return RoleLease(job, role, current.owner, current.fence, current.expires)
    fence = current.fence if current.owner == owner else current.fence + 1
    expires = now + lease_s
    conn.execute(update(roles).where(*_where(job, role)).values(owner=owner, fence=fence, expires=expires))
    return RoleLease(job, role, owner, fence, expires)


def renew(conn: Connection, job: str, role: str, owner: str, fence: int, lease_s: float, now: float) -> bool:
    result = conn.execute(
        update(roles)
        .where(*_where(job, role), roles.c.owner == owner, roles.c.fence == fence)
        .values(expires=now + lease_s)
    )
    return bool(result.rowcount)


def release(conn: Connection, job: str, role: str, owner: str, fence: int) -> None:
    conn.execute(
        update(roles)
        .where(*_where(job, role), roles.c.owner == owner, roles.c.fence == fence)
        .values(owner=None, expires=0.0)
    )


def release_every(conn: Connection, job: str) -> None:
    """Free every role of `job`: its runners are known to be dead (the SQLite runner lock)."""
    conn.execute(update(roles).where(roles.c.job == job, roles.c.owner.is_not(None)).values(owner=None, expires=0.0))


def holds_exporter(conn: Connection, job: str, fence: int) -> bool:
    """Whether the exporter role of `job` is held under `fence`; locks the row until commit on PostgreSQL."""
    query = select(roles.c.fence).where(*_where(job, EXPORTER_ROLE), roles.c.fence == fence, roles.c.owner.is_not(None))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(read=True)
    return conn.execute(query).first() is not None
