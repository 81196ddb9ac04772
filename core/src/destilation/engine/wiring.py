"""Turn a job spec and the registry into live objects: template, providers, validators, router, sinks.

Everything a job file can get wrong is found here, before a single request is sent, so
`destiler check` and `destiler run` report the same one-line errors. Every call of a plugin's
factory goes through `call_factory`, so a factory with a wrong signature (or one that crashes) is
one line naming the plugin and its distribution, never a traceback.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from destilation.config import JobSpec, structure
from destilation.errors import ConfigError, DestilationError, PluginError
from destilation.interfaces import PluginContext, Provider, ProviderInfo, Router
from destilation.modes import Mode
from destilation.plugins import DestilationPluginManager, one_line
from destilation.registry import Registration, Registry
from destilation.templates import Template, load_template_file, schema_error


def check_plugins_loaded(pm: DestilationPluginManager) -> None:
    """Refuse to wire a job while a plugin failed to load: what it would have added is silently missing."""
    if not pm.load_failures:
        return
    failed = "; ".join(f"plugin {f.name!r} from {f.distribution} failed to load ({f.error})" for f in pm.load_failures)
    names = ",".join(f.name for f in pm.load_failures)
    them = "it" if len(pm.load_failures) == 1 else "them"
    raise PluginError(f"{failed}; fix or uninstall {them}, or skip {them} with DESTILATION_DISABLE_PLUGINS={names}")


def plugin_error(reg: Registration, what: str) -> PluginError:
    return PluginError(f"plugin {reg.plugin!r} (distribution {reg.distribution}): {what}")


def call_factory(reg: Registration, kind: str, *args: Any, returns: type | None = None) -> Any:
    """Call what a plugin registered; a crash or a wrong result becomes a PluginError naming the plugin.

    A DestilationError the factory raises on purpose (a missing key, a bad option) passes through.
    """
    try:
        made = reg.obj(*args)
    except DestilationError:
        raise
    except Exception as exc:
        raise plugin_error(reg, f"{kind} factory {reg.name!r} failed: {one_line(exc)}") from exc
    if returns is not None and not isinstance(made, returns):
        raise plugin_error(reg, f"{kind} factory {reg.name!r} returned {type(made).__name__}, not a {returns.__name__}")
    return made


def resolve_template(spec: JobSpec, registry: Registry, source: str) -> Template:
    """A template id registered by a plugin, or a path to a user's TOML template file."""
    ref = spec.template
    if ref.endswith(".toml"):
        if not Path(ref).is_file():
            raise ConfigError(source, f"template file {ref} not found", "$.template")
        return load_template_file(ref)
    try:
        reg = registry.get("templates", ref)
    except PluginError as exc:
        raise ConfigError(source, str(exc), "$.template") from None
    if not isinstance(reg.obj, Template):
        raise plugin_error(reg, f"template {reg.name!r} is a {type(reg.obj).__name__}, not a destilation.Template")
    template = reg.obj
    problem = schema_error(template.schema)
    if problem is not None:
        where, message = problem
        raise ConfigError(source, f"template {ref!r}: schema{where}: {message}", "$.template")
    return template


def build_mode(spec: JobSpec, template: Template, registry: Registry, context: PluginContext, source: str) -> Mode:
    """The mode the template names, with the job's ``[mode]`` table as its options."""
    try:
        reg = registry.get("modes", template.mode)
    except PluginError as exc:
        raise ConfigError(source, f"template {template.id!r}: {exc}", "$.template") from None
    config = make_config(reg, spec.mode, source, "$.mode")
    mode: Mode = call_factory(reg, "mode", config, context, returns=Mode)
    check_job = getattr(mode, "check_job", None)
    if check_job is not None:  # optional: options that refer to the job (an expert's provider, say)
        check_job(spec, source)
    return mode


def make_config(reg: Registration, options: dict[str, Any], source: str, path: str) -> Any:
    """Structure a user's table into the plugin's config class (None when it declares none)."""
    if reg.config is None:
        if options:
            raise ConfigError(source, f"{reg.name} takes no options (got {', '.join(sorted(options))})", path)
        return None
    return structure(options, reg.config, source=source, path=path)


@attrs.frozen
class ValidatorSlot:
    name: str
    validator: Any


def validator_plan(spec: JobSpec, template: Template) -> list[tuple[str, dict[str, Any]]]:
    """Template defaults in their order, user additions before `exact_dedup`, `false` drops one."""
    names = [n for n in template.default_validators if spec.validators.get(n, True) is not False]
    extra = [n for n, v in spec.validators.items() if v is not False and n not in names]
    if "exact_dedup" in names:
        names.remove("exact_dedup")
        names = names + extra + ["exact_dedup"]
    else:
        names = names + extra
    plan: list[tuple[str, dict[str, Any]]] = []
    for name in names:
        options = spec.validators.get(name, {})
        plan.append((name, options if isinstance(options, dict) else {}))
    return plan


def build_validators(
    spec: JobSpec, template: Template, registry: Registry, context: PluginContext, source: str, mode: Mode | None = None
) -> list[ValidatorSlot]:
    """The job's validators in order: the template's, the mode's own (before `exact_dedup`), the user's."""
    slots = []
    for name, options in validator_plan(spec, template):
        if not isinstance(spec.validators.get(name, True), dict | bool):  # the plan would drop it silently
            raise ConfigError(source, "expected true, false or a table of options", f"$.validators.{name}")
        try:
            reg = registry.get("validators", name)
        except PluginError as exc:
            raise ConfigError(source, str(exc), f"$.validators.{name}") from None
        config = make_config(reg, options, source, f"$.validators.{name}")
        slots.append(ValidatorSlot(name, call_factory(reg, "validator", config, context)))
    if mode is not None:
        own = [ValidatorSlot(v.name, v) for v in mode.validators()]
        at = next((i for i, slot in enumerate(slots) if slot.name == "exact_dedup"), len(slots))
        slots[at:at] = own
    return slots


FAILOVER = "failover"
"""The engine's own key of `[routing]`: the router plugins never see it."""


def failover_enabled(spec: JobSpec, source: str = "") -> bool:
    """`[routing] failover`: move a task to another provider when its own gives it up; true by default
    when the job names several providers."""
    value = spec.routing.get(FAILOVER, len(spec.providers) > 1)
    if not isinstance(value, bool):
        raise ConfigError(source or f"job {spec.name}", "expected true or false", "$.routing.failover")
    return value


def build_router(spec: JobSpec, registry: Registry, context: PluginContext, source: str) -> Router:
    failover_enabled(spec, source)
    options = {key: value for key, value in spec.routing.items() if key != FAILOVER}
    strategy = options.pop("strategy", "round_robin")
    if not isinstance(strategy, str):
        raise ConfigError(source, "expected a router name", "$.routing.strategy")
    try:
        reg = registry.get("routers", strategy)
    except PluginError as exc:
        raise ConfigError(source, str(exc), "$.routing.strategy") from None
    config = make_config(reg, options, source, "$.routing")
    router: Router = call_factory(reg, "router", config, context, returns=Router)
    return router


def provider_infos(spec: JobSpec, source: str) -> list[ProviderInfo]:
    if not spec.providers:
        raise ConfigError(source, "the job names no provider: add a [providers.NAME] table with a kind", "$.providers")
    if not any(p.route for p in spec.providers.values()):
        raise ConfigError(source, "every provider has route = false: at least one must serve the route", "$.providers")
    return [
        ProviderInfo(
            name=name,
            kind=p.kind,
            model=p.model,
            capabilities=frozenset(p.capabilities),
            concurrency=p.concurrency,
            weight=p.weight,
        )
        for name, p in spec.providers.items()
    ]


def check_providers(spec: JobSpec, registry: Registry, source: str) -> list[tuple[ProviderInfo, Registration, Any]]:
    """Find each provider's plugin and structure its options, without building it."""
    found = []
    for info in provider_infos(spec, source):
        try:
            reg = registry.get("providers", info.kind)
        except PluginError as exc:
            raise ConfigError(source, str(exc), f"$.providers.{info.name}.kind") from None
        options = spec.providers[info.name].options
        found.append((info, reg, make_config(reg, options, source, f"$.providers.{info.name}")))
    return found


def build_providers(spec: JobSpec, registry: Registry, context: PluginContext, source: str) -> list[Provider]:
    """Build every provider; a factory refusing its config (a missing key, say) names the job file and provider."""
    providers: list[Provider] = []
    for info, reg, config in check_providers(spec, registry, source):
        try:
            providers.append(call_factory(reg, "provider", config, context, info, returns=Provider))
        except PluginError as exc:  # a provider that cannot be built (no API key, say): name the file
            raise ConfigError(source, str(exc), f"$.providers.{info.name}") from None
    return providers


def check_capabilities(template: Template, providers: list[Provider], source: str) -> None:
    needed = set(template.capabilities)
    if not any(needed <= p.info().capabilities for p in providers):
        names = ", ".join(p.info().name for p in providers)
        raise ConfigError(
            source,
            f"template {template.id!r} needs capabilities {sorted(needed)}, which none of the providers "
            f"({names}) declares",
            "$.providers",
        )


def check_sinks(spec: JobSpec, registry: Registry, source: str) -> list[tuple[str, Registration, Any]]:
    found = []
    for name, options in spec.sinks.items():
        try:
            reg = registry.get("sinks", name)
        except PluginError as exc:
            raise ConfigError(source, str(exc), f"$.sinks.{name}") from None
        found.append((name, reg, make_config(reg, options, source, f"$.sinks.{name}")))
    return found
