"""The entry point registers the store for both URL schemes, found like any third party's plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

from destilation import Event, PluginContext
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


def _context(tmp_path: Path) -> PluginContext:
    events: list[Event] = []

    def no_http(**kwargs: object) -> object:
        raise AssertionError("the store makes no HTTP calls")

    return PluginContext(str(tmp_path), events.append, no_http)  # type: ignore[arg-type]


async def test_entry_point_registers_sqlite_and_postgresql(tmp_path: Path) -> None:
    registry = collect(make_plugin_manager(allow=["sql"]))
    stores = registry.table("stores")
    assert {"sqlite", "postgresql"} <= set(stores)
    assert stores["sqlite"].distribution == "destilation-sql"
    assert stores["sqlite"].config is None

    store = stores["sqlite"].obj(f"sqlite:///{tmp_path / 'x.db'}", _context(tmp_path))
    assert isinstance(store, SqlStore)
    await store.open()
    try:
        assert await store.list_jobs() == []
    finally:
        await store.aclose()

    remote = stores["postgresql"].obj("postgresql://u:secret@h/db", _context(tmp_path))
    assert isinstance(remote, SqlStore)
    assert remote.url == "postgresql://u:***@h/db"
