"""Registration is bound to the registering plugin; discovery reports failures instead of crashing."""

from __future__ import annotations

import importlib.metadata as md
from types import SimpleNamespace
from typing import Any

import pytest

from destilation import hookimpl
from destilation.errors import PluginError
from destilation.plugins import LoadFailure, load_entrypoints, make_plugin_manager
from destilation.registry import Registrar, Registry, collect


class Alpha:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("echo", object)

    @hookimpl
    def register_templates(self, register: Any) -> None:
        register("t1", "template-object")


class Beta:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("echo", object)


def test_registrations_know_their_plugin() -> None:
    pm = make_plugin_manager(load=False, extra=[Alpha()])
    registry = collect(pm)
    reg = registry.get("providers", "echo")
    assert reg.obj is object
    assert reg.distribution == reg.plugin
    assert registry.get("templates", "t1").obj == "template-object"
    assert {r.name for r in registry} == {"echo", "t1", "progress", "dataset-notices"}


def test_a_name_registered_twice_names_both_distributions() -> None:
    pm = make_plugin_manager(load=False, extra=[Alpha(), Beta()])
    pm.origins[pm.get_name(pm.get_plugins().__iter__().__next__())] = ("x", "1")
    names = {pm.get_name(p): p for p in pm.get_plugins()}
    alpha = next(n for n, p in names.items() if isinstance(p, Alpha))
    beta = next(n for n, p in names.items() if isinstance(p, Beta))
    pm.origins[alpha] = ("destilation-alpha", "1.0")
    pm.origins[beta] = ("destilation-beta", "2.0")
    with pytest.raises(PluginError) as info:
        collect(pm)
    message = str(info.value)
    assert "provider 'echo' is registered twice" in message
    assert "destilation-alpha" in message and "destilation-beta" in message


def test_registrar_rejects_empty_names() -> None:
    register = Registrar("validators", "p", "dist-p", {})
    with pytest.raises(PluginError, match="non-empty strings"):
        register("", object)


def test_missing_and_unknown_names_say_what_to_install() -> None:
    registry = Registry()
    with pytest.raises(PluginError, match=r"no store plugin is installed .* install destilation-sql"):
        registry.get("stores", "sqlite")
    registry.table("stores")["sqlite"] = object()  # type: ignore[assignment]
    with pytest.raises(PluginError, match="unknown store 'mysql'; installed: sqlite"):
        registry.get("stores", "mysql")


class FakeEntryPoint:
    group = "destilation"

    def __init__(self, name: str, target: object, dist: str | None = "destilation-fake") -> None:
        self.name = name
        self._target = target
        self.dist = SimpleNamespace(name=dist, version="9.9") if dist else None

    def load(self) -> object:
        if isinstance(self._target, Exception):
            raise self._target
        return self._target


def test_entry_point_loading_reports_failures_and_honours_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    points = [
        FakeEntryPoint("good", Alpha()),
        FakeEntryPoint("broken", ImportError("no module named nowhere")),
        FakeEntryPoint("skipped", Beta()),
        FakeEntryPoint("nodist", SimpleNamespace(), dist=None),
    ]
    monkeypatch.setattr(md, "entry_points", lambda group: points)
    pm = make_plugin_manager(load=False)
    load_entrypoints(pm, disable=["skipped"])
    load_entrypoints(pm, disable=["skipped"])  # a second load changes nothing
    assert pm.get_plugin("good") is not None
    assert pm.origins["good"] == ("destilation-fake", "9.9")
    assert pm.origins["nodist"] == ("nodist", "")
    assert [(f.name, f.error) for f in pm.load_failures] == [
        ("broken", "ImportError: no module named nowhere"),
        ("broken", "ImportError: no module named nowhere"),
    ]
    assert pm.skipped == ["skipped", "skipped"]
    allow = make_plugin_manager(load=False)
    load_entrypoints(allow, allow=["good"])
    assert allow.get_plugin("good") is not None and allow.get_plugin("nodist") is None
    nothing = make_plugin_manager(load=False)
    load_entrypoints(nothing, disable=["*"])
    assert nothing.skipped == ["good", "broken", "skipped", "nodist"]


def test_env_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(md, "entry_points", lambda group: [FakeEntryPoint("good", Alpha())])
    monkeypatch.setenv("DESTILATION_PLUGINS", " good , ")
    assert make_plugin_manager().get_plugin("good") is not None
    monkeypatch.setenv("DESTILATION_PLUGINS", "other")
    assert make_plugin_manager().get_plugin("good") is None
    monkeypatch.delenv("DESTILATION_PLUGINS")
    monkeypatch.setenv("DESTILATION_DISABLE_PLUGINS", "good")
    assert make_plugin_manager().skipped == ["good"]


def test_wiring_refuses_while_a_plugin_failed_to_load_naming_each_and_its_distribution() -> None:
    from destilation.engine.wiring import check_plugins_loaded

    pm = make_plugin_manager(load=False)
    check_plugins_loaded(pm)  # nothing failed: nothing to say
    pm.load_failures.append(LoadFailure("broken", "destilation-broken", "ImportError: no module named nowhere"))
    pm.load_failures.append(LoadFailure("worse", "acme-worse", "SyntaxError: bad"))
    with pytest.raises(PluginError) as info:
        check_plugins_loaded(pm)
    assert str(info.value) == (
        "plugin 'broken' from destilation-broken failed to load (ImportError: no module named nowhere); "
        "plugin 'worse' from acme-worse failed to load (SyntaxError: bad); fix or uninstall them, "
        "or skip them with DESTILATION_DISABLE_PLUGINS=broken,worse"
    )


class Broken:
    @hookimpl
    def register_validators(self, register: Any) -> None:
        import destilation_no_such_module  # type: ignore[import-not-found]  # noqa: F401


def test_a_hook_that_raises_is_one_line_naming_the_plugin() -> None:
    pm = make_plugin_manager(load=False, extra=[Broken()])
    with pytest.raises(PluginError) as caught:
        collect(pm)
    message = str(caught.value)
    assert "register_validators failed: ModuleNotFoundError: No module named 'destilation_no_such_module'" in message
    assert message.startswith("plugin ") and "\n" not in message
