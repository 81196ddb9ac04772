"""Entry point: the `openrouter` provider and its `openai` alias, the `openrouter` commands and config prices."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from destilation import PluginContext, ProviderInfo, ProviderRegistrar, Usage, hookimpl
from destilation_openrouter.config import OpenRouterConfig

if TYPE_CHECKING:
    from destilation_openrouter.provider import OpenRouterProvider


def _factory(config: OpenRouterConfig, context: PluginContext, info: ProviderInfo) -> OpenRouterProvider:
    # The provider module pulls in httpx; import it only when a provider is actually built.
    from destilation_openrouter.factory import make_provider

    return make_provider(config, context, info)


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    register("openrouter", _factory, config=OpenRouterConfig)
    register("openai", _factory, config=OpenRouterConfig)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from destilation_openrouter.commands import openrouter

    cli.add_command(openrouter)


@hookimpl
def estimate_cost(provider: str, model: str, usage: Usage) -> float | None:
    from destilation_openrouter.costs import estimate

    return estimate(provider, usage)
