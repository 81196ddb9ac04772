"""Entry point of destilation-templates: registers the built-in templates."""

from __future__ import annotations

from destilation import TemplateRegistrar, hookimpl


@hookimpl
def register_templates(register: TemplateRegistrar) -> None:
    from destilation_templates.builtin import BUILTIN

    for template in BUILTIN:
        register(template.id, template)
