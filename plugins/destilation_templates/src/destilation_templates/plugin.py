"""Entry point of destilation-templates: registers the built-in templates."""

from __future__ import annotations

from typing import TYPE_CHECKING

from destilation import hookimpl

if TYPE_CHECKING:
    from collections.abc import Callable

    from destilation import Template


@hookimpl
def register_templates(register: Callable[[str, Template], None]) -> None:
    from destilation_templates.builtin import BUILTIN

    for template in BUILTIN:
        register(template.id, template)
