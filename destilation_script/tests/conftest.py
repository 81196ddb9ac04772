"""Shared fixtures: providers built through the plugin's factory around small programs the tests write."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

# In importlib mode pytest names this file `destilation_script.tests.conftest` after its folder, and
# puts a namespace stand-in for the folder `destilation_script/` into sys.modules, which would hide
# the installed package of the same name. Swap the real package back in.
if getattr(sys.modules.get("destilation_script"), "__file__", None) is None:
    sys.modules.pop("destilation_script", None)
    importlib.import_module("destilation_script")
# Importlib mode puts no test folder on sys.path; the helpers' module has a name no other tests use.
sys.path.insert(0, str(Path(__file__).parent))

from script_helpers import FAST, PRELUDE

from destilation import Event, PluginContext, ProviderInfo
from destilation.http import make_http_client
from destilation_script.config import ScriptConfig
from destilation_script.factory import make_provider
from destilation_script.provider import ScriptProvider


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def events() -> list[Event]:
    return []


@pytest.fixture
def context(tmp_path: Path, events: list[Event]) -> PluginContext:
    return PluginContext(data_dir=str(tmp_path), emit=events.append, http_client=make_http_client)


@pytest.fixture
def program(tmp_path: Path) -> Callable[[str], Path]:
    """Write a child program: the prelude's helpers, then `body`."""
    count = 0

    def write(body: str) -> Path:
        nonlocal count
        count += 1
        path = tmp_path / f"child{count}.py"
        path.write_text(PRELUDE + textwrap.dedent(body), encoding="utf-8")
        return path

    return write


@pytest.fixture
def build(context: PluginContext, program: Callable[[str], Path]) -> Callable[..., ScriptProvider]:
    """Build a provider the way the engine does (config, context, info → factory) around `body`."""

    def make(
        body: str, *, name: str = "t", model: str = "m1", capabilities: frozenset[str] = frozenset(), **options: Any
    ):
        path = program(body)
        config = ScriptConfig(command=[sys.executable, str(path)], **{**FAST, **options})
        info = ProviderInfo(name=name, kind="script", model=model, capabilities=capabilities)
        return make_provider(config, context, info)

    return make
