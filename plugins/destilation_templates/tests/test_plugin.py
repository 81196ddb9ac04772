"""The plugin registers its templates through the hook, directly and via entry-point discovery."""

from __future__ import annotations

from destilation import Template
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_templates import plugin
from destilation_templates.builtin import SIMPLE, TOOLS


def test_hook_registers_the_builtin_templates() -> None:
    seen: dict[str, Template] = {}

    def register(name: str, template: Template) -> None:
        seen[name] = template

    plugin.register_templates(register)
    assert seen == {"simple": SIMPLE, "tools": TOOLS}


def test_registered_through_the_plugin_manager() -> None:
    pm = make_plugin_manager(load=False, extra=[plugin])
    registry = collect(pm)
    registration = registry.get("templates", "simple")
    assert registration.obj is SIMPLE
    assert registration.config is None


def test_discovered_through_its_entry_point() -> None:
    pm = make_plugin_manager(allow=["templates"], disable=[])
    assert not pm.load_failures
    registration = collect(pm).get("templates", "simple")
    assert registration.obj is SIMPLE
    assert registration.distribution == "destilation-templates"
