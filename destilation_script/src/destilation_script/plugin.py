"""Entry point: registers the `script` provider kind."""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import PluginContext, ProviderInfo, ProviderRegistrar, hookimpl
from destilation_script.config import ScriptConfig

if TYPE_CHECKING:
    from destilation_script.provider import ScriptProvider


def _factory(config: ScriptConfig, context: PluginContext, info: ProviderInfo) -> ScriptProvider:
    # The provider module pulls in the process machinery; import it only when a provider is built.
    from destilation_script.factory import make_provider

    return make_provider(config, context, info)


@hookimpl
def register_providers(register: ProviderRegistrar) -> None:
    register("script", _factory, config=ScriptConfig)
