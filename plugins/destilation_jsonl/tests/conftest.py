from __future__ import annotations

import sys
from pathlib import Path

import pytest

from destilation import Event, PluginContext

# pytest 9 imports test files in importlib mode, which puts no test folder on sys.path; the
# shared builders live next to this file under a name no other distribution's tests use.
sys.path.insert(0, str(Path(__file__).parent))

from jsonl_support import make_context


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def context(data_dir: Path, events: list[Event]) -> PluginContext:
    return make_context(data_dir, events)
