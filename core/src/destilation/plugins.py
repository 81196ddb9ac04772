"""The plugin manager factory: entry-point discovery, allowlist, disable list, failure reports.

Plugins are found only through the ``destilation`` entry-point group, the first-party ones
exactly like a third party's. A plugin that fails to import, or implements a hook that does not
exist (a misspelling such as ``register_validator``), is recorded and left out, not fatal, so
``destiler plugins`` can show it and other commands keep working.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import os
from collections.abc import Iterable

import attrs
import pluggy

from destilation import defaults, hookspecs
from destilation.hookspecs import PROJECT

DISABLE_ENV = "DESTILATION_DISABLE_PLUGINS"
"""Comma-separated entry-point names not to load (``*`` disables every external plugin)."""
ALLOW_ENV = "DESTILATION_PLUGINS"
"""When set, a comma-separated allowlist: only these entry points load."""


@attrs.frozen
class LoadFailure:
    """A plugin that could not be loaded, and why, in one line."""

    name: str
    distribution: str
    error: str


class DestilationPluginManager(pluggy.PluginManager):
    """A pluggy manager that also remembers which plugins failed to load."""

    def __init__(self) -> None:
        super().__init__(PROJECT)
        self.load_failures: list[LoadFailure] = []
        self.skipped: list[str] = []
        self.origins: dict[str, tuple[str, str]] = {}
        """Plugin name → (distribution, version), for reports and duplicate-name errors."""


def _names(value: str | None) -> set[str]:
    return {part.strip() for part in (value or "").split(",") if part.strip()}


def load_entrypoints(
    pm: DestilationPluginManager,
    *,
    allow: Iterable[str] | None = None,
    disable: Iterable[str] = (),
) -> None:
    """Load every ``destilation`` entry point that the allowlist and disable list admit."""
    allowed = set(allow) if allow is not None else None
    disabled = set(disable)
    for ep in md.entry_points(group=PROJECT):
        dist_name = ep.dist.name if ep.dist is not None else ep.name
        if "*" in disabled or ep.name in disabled or (allowed is not None and ep.name not in allowed):
            pm.skipped.append(ep.name)
            continue
        if pm.get_plugin(ep.name) is not None or pm.is_blocked(ep.name):
            continue
        try:
            plugin = ep.load()
        except Exception as exc:  # one broken plugin must not take the others down
            pm.load_failures.append(LoadFailure(ep.name, dist_name, one_line(exc)))
            continue
        if register_checked(pm, plugin, ep.name, dist_name):
            pm.origins[ep.name] = (dist_name, ep.dist.version if ep.dist is not None else "")


def one_line(exc: BaseException) -> str:
    """An exception as ``Type: message`` on one line (pluggy's messages span several)."""
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def unknown_hooks(pm: pluggy.PluginManager, plugin: object) -> list[str]:
    """The hooks `plugin` implements that no hookspec declares, each with a likely correction."""
    known = [name for name in vars(pm.hook) if not name.startswith("_") and getattr(pm.hook, name).has_spec()]
    found = []
    for caller in pm.get_hookcallers(plugin) or ():
        if caller.has_spec() or all(i.optionalhook for i in caller.get_hookimpls() if i.plugin is plugin):
            continue
        close = difflib.get_close_matches(caller.name, known, n=1)
        found.append(f"{caller.name!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
    return found


def register_checked(pm: DestilationPluginManager, plugin: object, name: str | None, distribution: str) -> bool:
    """Register `plugin` and hold it to the hookspecs; a plugin that breaks them is recorded and left out.

    pluggy checks the argument names of known hooks at registration, and `check_pending` finds
    implementations of hooks that do not exist, which pluggy would otherwise never call.
    """
    try:
        registered = pm.register(plugin, name=name)
    except pluggy.PluginValidationError as exc:  # a hookimpl with arguments its hookspec does not have
        pm.load_failures.append(LoadFailure(name or distribution, distribution, one_line(exc)))
        return False
    except ValueError as exc:  # already registered; pluggy's message goes on to list every plugin
        reason = str(exc).split(":", 1)[0]
        pm.load_failures.append(LoadFailure(name or distribution, distribution, f"ValueError: {reason}"))
        return False
    if registered is None:  # the name is blocked
        return False
    try:
        pm.check_pending()
    except pluggy.PluginValidationError:
        hooks = unknown_hooks(pm, plugin)
        pm.unregister(plugin)
        what = "hook" if len(hooks) == 1 else "hooks"
        pm.load_failures.append(LoadFailure(registered, distribution, f"implements unknown {what} {', '.join(hooks)}"))
        return False
    return True


def make_plugin_manager(
    *,
    load: bool = True,
    allow: Iterable[str] | None = None,
    disable: Iterable[str] | None = None,
    extra: Iterable[object] = (),
) -> DestilationPluginManager:
    """Build a fresh plugin manager: hookspecs, core defaults, entry points, then `extra` plugins.

    `allow` and `disable` default to the ``DESTILATION_PLUGINS`` and
    ``DESTILATION_DISABLE_PLUGINS`` environment variables.
    """
    pm = DestilationPluginManager()
    pm.add_hookspecs(hookspecs)
    pm.register(defaults, name="destilation.defaults")
    pm.origins["destilation.defaults"] = ("destilation-core", md.version("destilation-core"))
    if load:
        if allow is None and os.environ.get(ALLOW_ENV) is not None:
            allow = _names(os.environ.get(ALLOW_ENV))
        if disable is None:
            disable = _names(os.environ.get(DISABLE_ENV))
        load_entrypoints(pm, allow=allow, disable=disable)
    for plugin in extra:
        register_checked(pm, plugin, None, type(plugin).__name__)
    return pm
