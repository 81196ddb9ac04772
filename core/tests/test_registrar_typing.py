"""mypy catches a wrong factory in a plugin that annotates `register` with its kind's registrar."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from destilation.registry import KINDS, Registrar

PLUGIN = """
from typing import Any

from destilation import (
    JobRecord, ModeRegistrar, PluginContext, ProviderInfo, ProviderRegistrar, SingleCall,
    RouterRegistrar, SinkRegistrar, StoreRegistrar, SubscriberRegistrar, TemplateRegistrar,
    ValidatorRegistrar, hookimpl,
)
from destilation.testing import QA, FirstRouter, MemorySink, MemoryStore, ScriptedProvider


def provider(config: Any, context: PluginContext, info: ProviderInfo) -> ScriptedProvider:
    return ScriptedProvider([], info)


def store(url: str, context: PluginContext) -> MemoryStore:
    return MemoryStore(url)


def sink(config: Any, context: PluginContext, job: JobRecord) -> MemorySink:
    return MemorySink()


class Validator:
    name = "v"

    def __init__(self, config: Any, context: PluginContext) -> None: ...

    async def check(self, candidate: Any, context: Any) -> Any: ...


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    register("right", provider)
    register("wrong", store)  # WRONG


@hookimpl
def register_validators(register: ValidatorRegistrar) -> None:
    register("right", Validator)
    register("wrong", provider)  # WRONG


@hookimpl
def register_routers(register: RouterRegistrar) -> None:
    register("right", FirstRouter)
    register("wrong", Validator)  # WRONG


@hookimpl
def register_templates(register: TemplateRegistrar) -> None:
    register("right", QA)
    register("wrong", {"id": "qa"})  # WRONG


@hookimpl
def register_stores(register: StoreRegistrar) -> None:
    register("right", store)
    register("wrong", sink)  # WRONG


@hookimpl
def register_sinks(register: SinkRegistrar) -> None:
    register("right", sink)
    register("wrong", MemorySink)  # WRONG


@hookimpl
def register_modes(register: ModeRegistrar) -> None:
    register("right", lambda config, context: SingleCall("right"))
    register("wrong", QA)  # WRONG


@hookimpl
def register_subscribers(register: SubscriberRegistrar) -> None:
    register("right", lambda context: print)
    register("wrong", lambda: print)  # WRONG
"""


def test_mypy_refuses_a_wrong_factory_for_every_kind(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api", reason="mypy is not installed here; tox -e py installs it")
    plugin = tmp_path / "plugin.py"
    plugin.write_text(PLUGIN, encoding="utf-8")
    out, err, status = api.run(
        ["--strict", "--no-incremental", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(plugin)]
    )
    assert err == ""
    flagged = {int(m.group(1)) for m in re.finditer(r"plugin\.py:(\d+): error:", out)}
    wrong = {n for n, line in enumerate(PLUGIN.splitlines(), start=1) if line.endswith("# WRONG")}
    assert flagged == wrong, out
    assert status == 1
    assert len(wrong) == len(KINDS)


def test_each_kind_is_one_row_with_its_hook_registrar_and_factory_type() -> None:
    from destilation import hookspecs, interfaces, modes
    from destilation.templates import Template

    factories = {
        "providers": interfaces.ProviderFactory,
        "validators": interfaces.ValidatorFactory,
        "routers": interfaces.RouterFactory,
        "templates": Template,
        "modes": modes.ModeFactory,
        "stores": interfaces.StoreFactory,
        "sinks": interfaces.SinkFactory,
        "subscribers": interfaces.SubscriberFactory,
    }
    assert {name: kind.factory for name, kind in KINDS.items()} == factories
    for kind in KINDS.values():
        assert kind.hook in hookspecs.HOOK_NAMES
        spec = getattr(hookspecs, kind.hook)
        assert spec.__annotations__["register"] == kind.registrar.__name__
        assert issubclass(kind.registrar, Registrar)
        assert kind.singular == kind.name[:-1]
