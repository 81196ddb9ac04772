"""Provider health rows: one upsert per batch, about once a second per process.

Plain functions over an open connection inside a transaction; the store runs them in its
worker thread. The upsert statement is built once per dialect: it runs beside a job doing
thousands of commits, so it should cost one short transaction and nothing more.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, select

from destilation import ProviderHealth
from destilation_sql import codec
from destilation_sql.schema import dialect_insert, provider_health

_KEY = ("job", "provider", "owner")


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT … ON CONFLICT (job, provider, owner) DO UPDATE every other column."""
    insert = dialect_insert(dialect, provider_health)
    return insert.on_conflict_do_update(
        index_elements=[provider_health.c[name] for name in _KEY],
        set_={c.name: insert.excluded[c.name] for c in provider_health.c if c.name not in _KEY},
    )


def record(conn: Connection, rows: Sequence[ProviderHealth], now: float, secrets: Sequence[str]) -> None:
    """Store each row, replacing the one of the same (job, provider, owner)."""
    if rows:
        # Last one wins within a batch too, as it would across batches.
        latest = {(r.job, r.provider, r.owner): r for r in rows}
        conn.execute(_upsert(conn.dialect.name), [codec.health_to_row(r, now, secrets) for r in latest.values()])


def read(conn: Connection, job: str) -> list[ProviderHealth]:
    c = provider_health.c
    query = select(provider_health).where(c.job == job).order_by(c.provider, c.owner)
    return [codec.health_from_row(r) for r in conn.execute(query).mappings()]
