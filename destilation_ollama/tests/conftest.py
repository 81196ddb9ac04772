"""Shared fixtures: a fake Ollama server on 127.0.0.1 and providers built through the plugin's factory."""

from __future__ import annotations

import importlib
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

# In importlib mode pytest names this file `destilation_ollama.tests.conftest` after its folder,
# and puts a namespace stand-in for the folder `destilation_ollama/` into sys.modules, which
# would hide the installed package of the same name. Swap the real package back in.
if getattr(sys.modules.get("destilation_ollama"), "__file__", None) is None:
    sys.modules.pop("destilation_ollama", None)
    importlib.import_module("destilation_ollama")
# Importlib mode puts no test folder on sys.path; the fake server's module has a name no other tests use.
sys.path.insert(0, str(Path(__file__).parent))

from fake_ollama import FakeOllama, serve_fake

from destilation import PluginContext, ProviderInfo
from destilation.http import make_http_client
from destilation_ollama.config import OllamaConfig
from destilation_ollama.factory import make_provider
from destilation_ollama.provider import OllamaProvider


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def context(tmp_path: Any) -> PluginContext:
    return PluginContext(data_dir=str(tmp_path), emit=lambda _event: None, http_client=make_http_client)


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeOllama, str]]:
    server = FakeOllama()
    async with serve_fake(server) as url:
        yield server, url


@pytest.fixture
def build(context: PluginContext) -> Callable[..., OllamaProvider]:
    """Build a provider the way the engine does: config, context, info → factory."""

    def make(host: str, *, name: str = "local", model: str = "qwen3:8b", capabilities: Any = (), **options: Any):
        config = OllamaConfig(host=host, **options)
        info = ProviderInfo(name=name, kind="ollama", model=model, capabilities=frozenset(capabilities))
        return make_provider(config, context, info)

    return make
