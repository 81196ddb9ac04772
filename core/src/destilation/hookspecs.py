"""Hook specifications: the whole contract between the core and its plugins.

Hooks are synchronous and cheap. They register objects or make small decisions; the objects'
I/O methods are ``async``. Nothing on the per-sample hot path awaits a hook.

Registration hooks are called once per plugin with a registrar bound to that plugin, so a
duplicate name is reported with both distributions named. Each kind has its own registrar type
(`destilation.registry.KINDS`), so a plugin that annotates ``register`` with it has every factory
it registers checked by mypy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import click

    from destilation.domain import Usage
    from destilation.registry import (
        ModeRegistrar,
        ProviderRegistrar,
        RouterRegistrar,
        SinkRegistrar,
        StoreRegistrar,
        SubscriberRegistrar,
        TemplateRegistrar,
        ValidatorRegistrar,
    )

PROJECT = "destilation"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --- registration ---------------------------------------------------------------------------


@hookspec
def register_providers(register: ProviderRegistrar) -> None:
    """Register model providers by kind.

    :param register: ``register(kind, factory, config=ConfigClass)``; the factory is called as
        ``factory(config, context, info)`` and returns a :class:`destilation.interfaces.Provider`.

    Example::

        @hookimpl
        def register_providers(register):
            register("echo", EchoProvider, config=EchoConfig)
    """


@hookspec
def register_validators(register: ValidatorRegistrar) -> None:
    """Register validators by name.

    :param register: ``register(name, factory, config=ConfigClass)``; ``factory(config, context)``
        returns an object with ``name`` and ``async check(candidate, context) -> Verdict``.

    Example::

        @hookimpl
        def register_validators(register):
            register("no_emoji", NoEmoji)
    """


@hookspec
def register_routers(register: RouterRegistrar) -> None:
    """Register provider-selection strategies by name.

    :param register: ``register(name, factory, config=ConfigClass)``; ``factory(config, context)``
        returns a :class:`destilation.interfaces.Router`.

    Example::

        @hookimpl
        def register_routers(register):
            register("cheapest", CheapestRouter)
    """


@hookspec
def register_templates(register: TemplateRegistrar) -> None:
    """Register built-in templates by id.

    :param register: ``register(template_id, template)`` where ``template`` is a
        :class:`destilation.templates.Template`.

    Example::

        @hookimpl
        def register_templates(register):
            register("simple", SIMPLE)
    """


@hookspec
def register_modes(register: ModeRegistrar) -> None:
    """Register modes by name: how a task's requests are made and answers become content (DESIGN §9).

    :param register: ``register(name, factory, config=ConfigClass)``; ``factory(config, context)``
        returns a :class:`destilation.modes.Mode`. A template names its mode; the job's ``[mode]``
        table is structured into `ConfigClass` (experts, tools, …).

    Example::

        @hookimpl
        def register_modes(register):
            register("simple", lambda config, context: SingleCall("simple"))
    """


@hookspec
def register_stores(register: StoreRegistrar) -> None:
    """Register state stores by URL scheme.

    :param register: ``register(scheme, factory)``; ``factory(url, context)`` returns a
        :class:`destilation.interfaces.StateStore`. The scheme is the part before ``:`` with
        any ``+driver`` suffix removed (``postgresql+psycopg`` → ``postgresql``).

    Example::

        @hookimpl
        def register_stores(register):
            register("sqlite", SqlStore)
    """


@hookspec
def register_sinks(register: SinkRegistrar) -> None:
    """Register dataset sinks by name.

    :param register: ``register(name, factory, config=ConfigClass)``; ``factory(config, context,
        job)`` returns a :class:`destilation.interfaces.Sink`.

    Example::

        @hookimpl
        def register_sinks(register):
            register("jsonl", JsonlSink)
    """


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add ``destiler`` subcommands.

    :param cli: the root click group; call ``cli.add_command(...)``.

    Example::

        @hookimpl
        def register_commands(cli):
            cli.add_command(tui_command)
    """


@hookspec
def register_subscribers(register: SubscriberRegistrar) -> None:
    """Register event subscribers (progress, logs, metrics).

    :param register: ``register(name, factory)``; ``factory(context)`` returns a callable taking an
        :class:`destilation.domain.Event`. It must return quickly and never raise.

    Example::

        @hookimpl
        def register_subscribers(register):
            register("stderr-log", lambda context: print)
    """


# --- decisions ------------------------------------------------------------------------------


@hookspec(firstresult=True)
def fingerprint(sample_content: Any) -> str | None:
    """Return the deduplication key of sample content.

    Stops at the first non-None result. The core default (``trylast``) hashes the content's
    normalised JSON (sorted keys, whitespace folded, case folded).

    :param sample_content: the parsed content of a candidate.

    Example::

        @hookimpl
        def fingerprint(sample_content):
            return sample_content["question"].lower()
    """


@hookspec(firstresult=True)
def classify_error(error: BaseException, provider: str) -> str | None:
    """Decide what a provider failure means: an :class:`destilation.policy.ErrorAction`.

    ``"retry"`` (send it again after a jittered backoff), ``"backoff"`` (hold the whole provider
    back: its ``Retry-After``, else backoff), ``"failover"`` (give the request up here; the task
    moves to another provider) or ``"abort"`` (stop the job). Plain strings work too; an answer
    that is none of these is taken as ``"retry"``, with one ``classify_error_unknown`` warning
    event. Stops at the first non-None result. The core default (``trylast``) aborts on HTTP
    401/402/403, backs off on 429/503/529 or a ``retry_after``, retries other retryable
    :class:`destilation.interfaces.ProviderError`\\ s (and exceptions that are not one) and fails
    over on the rest (400, 404, …).

    :param error: the exception the provider raised.
    :param provider: the provider's configured name.

    Example::

        @hookimpl
        def classify_error(error, provider):
            return "failover" if "quota" in str(error) else None
    """


@hookspec(firstresult=True)
def estimate_cost(provider: str, model: str, usage: Usage) -> float | None:
    """Price a generation in USD, for budgets, when the provider did not report a cost.

    Stops at the first non-None result. The core default (``trylast``) returns ``0.0``.

    :param provider: the provider's configured name.
    :param model: the model that answered.
    :param usage: its token counts.

    Example::

        @hookimpl
        def estimate_cost(provider, model, usage):
            return usage.total_tokens * 2e-6
    """


HOOK_NAMES: tuple[str, ...] = tuple(name for name, fn in list(globals().items()) if hasattr(fn, f"{PROJECT}_spec"))
"""Every hook, in the order this module declares them."""

__all__ = ["HOOK_NAMES", "PROJECT", "hookimpl", "hookspec"]
