"""Entry point: registers the SQL store for the ``sqlite`` and ``postgresql`` URL schemes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import hookimpl

if TYPE_CHECKING:
    from destilation import PluginContext, StoreRegistrar
    from destilation_sql.store import SqlStore


def make_store(url: str, context: PluginContext) -> SqlStore:
    """Build a store for `url`; SQLAlchemy is imported here, not when plugins load."""
    from destilation_sql.store import SqlStore

    return SqlStore(url, context)


@hookimpl
def register_stores(register: StoreRegistrar) -> None:
    register("sqlite", make_store)
    register("postgresql", make_store)
