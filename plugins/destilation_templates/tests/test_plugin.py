"""The plugin registers its templates through the hook, directly and via entry-point discovery."""

from __future__ import annotations

from destilation import Template
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_templates import plugin
from destilation_templates.builtin import MOE, REASONING, SIMPLE, TOOLS
from destilation_templates.moe import Expert, MoeConfig, MoeMode


def test_hook_registers_every_builtin() -> None:
    seen: dict[str, Template] = {}

    def register(name: str, template: Template) -> None:
        seen[name] = template

    plugin.register_templates(register)
    assert seen == {"simple": SIMPLE, "moe": MOE, "reasoning": REASONING, "tools": TOOLS}


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


def test_moe_is_registered_with_its_config_class() -> None:
    registration = collect(make_plugin_manager(load=False, extra=[plugin])).get("modes", "moe")
    assert registration.config is MoeConfig
    config = MoeConfig(experts=[Expert("a", "x"), Expert("b", "y")])
    assert isinstance(registration.obj(config, None), MoeMode)
