"""Shared fixtures: real HTTP servers on 127.0.0.1 and providers built through the plugin's factory."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

# In importlib mode pytest names this file `destilation_openrouter.tests.conftest` after its folder,
# and puts a namespace stand-in for the folder `destilation_openrouter/` into sys.modules, which
# would hide the installed package of the same name. Swap the real package back in.
if getattr(sys.modules.get("destilation_openrouter"), "__file__", None) is None:
    sys.modules.pop("destilation_openrouter", None)
    importlib.import_module("destilation_openrouter")
# Importlib mode puts no test folder on sys.path; the helpers (and the fake OpenAI server, which
# the repository's benchmarks run by path) have names no other tests use.
sys.path.insert(0, str(Path(__file__).parent))

from fake_openai import FakeOpenAI, start_fake_openai

from destilation import PluginContext, ProviderInfo
from destilation.http import make_http_client
from destilation_openrouter.config import OpenRouterConfig
from destilation_openrouter.factory import make_provider
from destilation_openrouter.provider import OpenRouterProvider


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def context(tmp_path: Any) -> PluginContext:
    return PluginContext(data_dir=str(tmp_path), emit=lambda _event: None, http_client=make_http_client)


@pytest.fixture
def fake() -> Iterator[tuple[FakeOpenAI, str]]:
    server = FakeOpenAI()
    with start_fake_openai(server) as base_url:
        yield server, base_url


@pytest.fixture
def build(context: PluginContext) -> Callable[..., OpenRouterProvider]:
    """Build a provider the way the engine does: config, context, info → factory."""

    def make(base_url: str, *, kind: str = "openai", name: str = "t", model: str = "m", **options: Any):
        config = OpenRouterConfig(base_url=base_url, **options)
        return make_provider(config, context, ProviderInfo(name=name, kind=kind, model=model))

    return make
