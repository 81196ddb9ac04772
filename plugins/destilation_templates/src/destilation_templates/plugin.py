"""Entry point of destilation-templates: registers the built-in templates and modes."""

from __future__ import annotations

from typing import Any

from destilation import Mode, ModeRegistrar, PluginContext, TemplateRegistrar, hookimpl
from destilation.modes import SingleCall


@hookimpl
def register_templates(register: TemplateRegistrar) -> None:
    from destilation_templates.builtin import BUILTIN

    for template in BUILTIN:
        register(template.id, template)


@hookimpl
def register_modes(register: ModeRegistrar) -> None:
    from destilation_templates.moe import MoeConfig, make_moe
    from destilation_templates.reasoning_mode import ReasoningConfig, make_reasoning_mode

    # One request per attempt: `simple` for the built-in templates, `custom` for a user's schema file.
    for name in ("simple", "custom"):
        register(name, lambda config, context, name=name: SingleCall(name))
    register("moe", make_moe, config=MoeConfig)
    register("reasoning", make_reasoning_mode, config=ReasoningConfig)
    # A multi-turn loop of tool calls and results (`tools_mode`, which imports jsonschema): imported
    # when a job uses it, so that commands that only read the store start without it.
    from destilation_templates.tools_config import ToolsConfig

    register("tools", _tools_mode, config=ToolsConfig)


def _tools_mode(config: Any, context: PluginContext) -> Mode:
    from destilation_templates.tools_mode import make_tools_mode

    return make_tools_mode(config, context)
