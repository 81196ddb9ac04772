"""Registries of what plugins provide, each entry knowing the plugin and distribution it came from.

Each registration hook is called once per plugin with a `Registrar` bound to that plugin, so a
name registered twice is an error naming both distributions.
"""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

import attrs
import pluggy

from destilation.errors import PluginError
from destilation.interfaces import (
    ProviderFactory,
    RouterFactory,
    SinkFactory,
    StoreFactory,
    SubscriberFactory,
    ValidatorFactory,
)
from destilation.modes import ModeFactory
from destilation.templates import Template

F = TypeVar("F")


@attrs.frozen
class Registration:
    """One registered thing: its name, the object or factory, its config class and its origin."""

    name: str
    obj: Any
    config: type | None
    plugin: str
    distribution: str


@attrs.define
class Registrar(Generic[F]):
    """The ``register`` callable a plugin receives, bound to that plugin; `F` is what the kind registers.

    Annotate a hook implementation with the kind's registrar (``register: ProviderRegistrar``)
    and mypy checks every factory the plugin registers against the factory type of the kind.
    """

    kind: str
    plugin: str
    distribution: str
    table: dict[str, Registration]

    def __call__(self, name: str, obj: F, *, config: type | None = None) -> None:
        if not isinstance(name, str) or not name:
            raise PluginError(f"{self.distribution}: {self.kind} names must be non-empty strings, got {name!r}")
        previous = self.table.get(name)
        if previous is not None:
            raise PluginError(
                f"{self.kind[:-1]} {name!r} is registered twice: by {previous.distribution} "
                f"and by {self.distribution}; uninstall or disable one of them"
            )
        self.table[name] = Registration(name, obj, config, self.plugin, self.distribution)


class ProviderRegistrar(Registrar[ProviderFactory]):
    """``register(kind, factory, config=ConfigClass)``; ``factory(config, context, info)`` returns a Provider."""


class ValidatorRegistrar(Registrar[ValidatorFactory]):
    """``register(name, factory, config=ConfigClass)``; ``factory(config, context)`` returns a Validator."""


class RouterRegistrar(Registrar[RouterFactory]):
    """``register(name, factory, config=ConfigClass)``; ``factory(config, context)`` returns a Router."""


class TemplateRegistrar(Registrar[Template]):
    """``register(template_id, template)`` with a :class:`destilation.templates.Template`."""


class StoreRegistrar(Registrar[StoreFactory]):
    """``register(scheme, factory)``; ``factory(url, context)`` returns a StateStore."""


class SinkRegistrar(Registrar[SinkFactory]):
    """``register(name, factory, config=ConfigClass)``; ``factory(config, context, job)`` returns a Sink."""


class ModeRegistrar(Registrar[ModeFactory]):
    """``register(name, factory, config=ConfigClass)``; ``factory(config, context)`` returns a Mode.

    `config` is the job's ``[mode]`` table structured into `ConfigClass` (None without one).
    """


class SubscriberRegistrar(Registrar[SubscriberFactory]):
    """``register(name, factory)``; ``factory(context)`` returns a callable taking an Event, or None."""


@attrs.frozen
class Kind:
    """One kind of thing plugins register: its registry table, its hook, its registrar, what to install."""

    name: str
    hook: str
    registrar: type[Registrar[Any]]
    package: str
    """Installed when nothing of this kind is: named in the error that says so."""

    @property
    def singular(self) -> str:
        return self.name[:-1]

    @property
    def factory(self) -> object:
        """The type a plugin registers for this kind: its registrar's type parameter."""
        (base,) = typing.get_args(self.registrar.__orig_bases__[0])  # type: ignore[attr-defined]
        return base


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind("providers", "register_providers", ProviderRegistrar, "destilation-mock"),
        Kind("validators", "register_validators", ValidatorRegistrar, "destilation-validators"),
        Kind("routers", "register_routers", RouterRegistrar, "destilation-routing"),
        Kind("templates", "register_templates", TemplateRegistrar, "destilation-templates"),
        Kind("modes", "register_modes", ModeRegistrar, "destilation-templates"),
        Kind("stores", "register_stores", StoreRegistrar, "destilation-sql"),
        Kind("sinks", "register_sinks", SinkRegistrar, "destilation-jsonl"),
        Kind("subscribers", "register_subscribers", SubscriberRegistrar, "destilation"),
    )
}
"""Every registration kind, in the order plugins are asked for them."""


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
        singular = KINDS[kind].singular
        if not table:
            raise PluginError(f"no {singular} plugin is installed (wanted {name!r}): install {KINDS[kind].package}")
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
    for kind in KINDS.values():
        caller: Any = getattr(pm.hook, kind.hook)
        impls: list[pluggy.HookImpl] = caller.get_hookimpls()
        # pluggy keeps implementations in call order reversed; registration follows load order.
        for impl in reversed(impls):
            registrar = kind.registrar(
                kind.name, impl.plugin_name, distribution_of(pm, impl.plugin_name), registry.tables[kind.name]
            )
            fn: Callable[..., object] = impl.function
            try:
                fn(register=registrar)
            except PluginError:  # a name registered twice, say: it names both distributions itself
                raise
            except Exception as exc:  # a broken import or bug in the hook: one line naming the plugin
                what = " ".join(f"{type(exc).__name__}: {exc}".split())
                raise PluginError(
                    f"plugin {impl.plugin_name!r} (distribution {registrar.distribution}): {kind.hook} failed: {what}"
                ) from exc
    return registry
