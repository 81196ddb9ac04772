"""Registries of what plugins provide, each entry knowing the plugin and distribution it came from.

Each registration hook is called once per plugin with a `Registrar` bound to that plugin, so a
name registered twice is an error naming both distributions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pluggy

from destilation.errors import PluginError

KINDS: dict[str, str] = {
    "providers": "register_providers",
    "validators": "register_validators",
    "routers": "register_routers",
    "templates": "register_templates",
    "stores": "register_stores",
    "sinks": "register_sinks",
    "subscribers": "register_subscribers",
}

# What to install when a kind has nothing registered, for the error that says so.
PACKAGE_FOR_KIND: dict[str, str] = {
    "providers": "destilation-mock",
    "validators": "destilation-validators",
    "routers": "destilation-routing",
    "templates": "destilation-templates",
    "stores": "destilation-sql",
    "sinks": "destilation-jsonl",
    "subscribers": "destilation",
}


@attrs.frozen
class Registration:
    """One registered thing: its name, the object or factory, its config class and its origin."""

    name: str
    obj: Any
    config: type | None
    plugin: str
    distribution: str


@attrs.define
class Registrar:
    """The ``register`` callable a plugin receives, bound to that plugin."""

    kind: str
    plugin: str
    distribution: str
    table: dict[str, Registration]

    def __call__(self, name: str, obj: Any, *, config: type | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.distribution}: {self.kind} names must be non-empty strings, got {name!r}")
        previous = self.table.get(name)
        if previous is not None:
            raise PluginError(
                f"{self.kind[:-1]} {name!r} is registered twice: by {previous.distribution} "
                f"and by {self.distribution}; uninstall or disable one of them"
            )
        self.table[name] = Registration(name, obj, config, self.plugin, self.distribution)


@attrs.define
class Registry:
    """Everything the installed plugins registered, by kind and name."""

    tables: dict[str, dict[str, Registration]] = attrs.field(factory=lambda: {k: {} for k in KINDS})

    def table(self, kind: str) -> dict[str, Registration]:
        return self.tables[kind]

    def get(self, kind: str, name: str) -> Registration:
        """Look a name up, or fail with one line that says what exists and what to install."""
        table = self.tables[kind]
        if name in table:
            return table[name]
        singular = kind[:-1]
        if not table:
            raise PluginError(f"no {singular} plugin is installed (wanted {name!r}): install {PACKAGE_FOR_KIND[kind]}")
        known = ", ".join(sorted(table))
        raise PluginError(f"unknown {singular} {name!r}; installed: {known}")

    def __iter__(self) -> Iterator[Registration]:
        for table in self.tables.values():
            yield from table.values()


def distribution_of(pm: pluggy.PluginManager, plugin_name: str) -> str:
    """The distribution a plugin was loaded from, or its plugin name when added by hand."""
    origins: dict[str, tuple[str, str]] = getattr(pm, "origins", {})
    return origins[plugin_name][0] if plugin_name in origins else plugin_name


def collect(pm: pluggy.PluginManager) -> Registry:
    """Call every registration hook once per plugin, binding the registrar to that plugin."""
    registry = Registry()
    for kind, hook_name in KINDS.items():
        caller: Any = getattr(pm.hook, hook_name)
        impls: list[pluggy.HookImpl] = caller.get_hookimpls()
        # pluggy keeps implementations in call order reversed; registration follows load order.
        for impl in reversed(impls):
            registrar = Registrar(kind, impl.plugin_name, distribution_of(pm, impl.plugin_name), registry.tables[kind])
            fn: Callable[..., object] = impl.function
            fn(register=registrar)
    return registry
