"""Fixtures for plugin authors' tests. Opt in from your top-level ``conftest.py``::

    pytest_plugins = ["destilation.testing.pytest_plugin"]

- ``testing_kit``: a fresh `TestingKit` (memory store and sink, scripted providers).
- ``memory_store``: an open `MemoryStore`, for tests of code that talks to a store.
- ``kit_app``: a `destilation.app.App` whose plugin manager holds the kit and no entry points;
  add your plugin with ``kit_app.pm.register(MyPlugin())`` before the first use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from destilation.app import App
from destilation.config import Settings
from destilation.plugins import make_plugin_manager
from destilation.testing.kit import TestingKit
from destilation.testing.memory_store import MemoryStore


@pytest.fixture
def testing_kit() -> TestingKit:
    return TestingKit()


@pytest.fixture
async def memory_store() -> AsyncIterator[MemoryStore]:
    store = MemoryStore()
    async with store:
        await store.open()
        yield store


@pytest.fixture
def kit_app(testing_kit: TestingKit, tmp_path: Path) -> App:
    pm = make_plugin_manager(load=False, extra=[testing_kit])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))
