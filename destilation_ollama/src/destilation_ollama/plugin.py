"""Entry point: registers the `ollama` provider kind and the `destiler ollama` commands."""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import PluginContext, ProviderInfo, ProviderRegistrar, hookimpl
from destilation_ollama.config import OllamaConfig

if TYPE_CHECKING:
    import click

    from destilation_ollama.provider import OllamaProvider


def _factory(config: OllamaConfig, context: PluginContext, info: ProviderInfo) -> OllamaProvider:
    # The provider module pulls in httpx; import it only when a provider is actually built.
    from destilation_ollama.factory import make_provider

    return make_provider(config, context, info)


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    register("ollama", _factory, config=OllamaConfig)


@hookimpl
def register_commands(cli: click.Group) -> None:
    from destilation_ollama.cli import ollama

    cli.add_command(ollama)
