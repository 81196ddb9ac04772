"""Entry point of destilation-templates: registers the built-in templates and modes."""

from __future__ import annotations

from destilation import ModeRegistrar, TemplateRegistrar, hookimpl
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
