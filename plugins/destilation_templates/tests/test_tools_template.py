"""The built-in `tools` template and the `tools` mode's registration."""

from __future__ import annotations

import jsonschema

from destilation.config import structure
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_templates import plugin
from destilation_templates.builtin import TOOLS
from destilation_templates.tools_config import ToolsConfig
from destilation_templates.tools_mode import ToolsMode, make_tools_mode

SAMPLE = {
    "messages": [
        {"role": "system", "content": "You can call tools."},
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c", "name": "weather", "arguments": "{}"}]},
        {"role": "tool", "content": '{"t": 3}', "tool_call_id": "c", "name": "weather"},
        {"role": "assistant", "content": "3 degrees.", "reasoning": "read the result"},
    ],
    "tools": [{"name": "weather", "description": "", "parameters": {"type": "object"}}],
}


def test_identity() -> None:
    assert (TOOLS.id, TOOLS.mode, TOOLS.capabilities) == ("tools", "tools", ("tools",))
    assert TOOLS.fields() == ["request"] and "`request`" in TOOLS.description
    assert TOOLS.default_validators == ("truncation", "json_schema", "exact_dedup")


def test_the_schema_takes_a_conversation_with_arguments_as_text() -> None:
    validator = jsonschema.validators.validator_for(TOOLS.schema)(TOOLS.schema)
    validator.check_schema(TOOLS.schema)
    assert validator.is_valid(SAMPLE)
    parsed_arguments = {**SAMPLE, "messages": [*SAMPLE["messages"][:2], {**SAMPLE["messages"][2]}]}
    parsed_arguments["messages"][2]["tool_calls"] = [{"id": "c", "name": "weather", "arguments": {}}]
    assert not validator.is_valid(parsed_arguments)
    assert not validator.is_valid({"messages": SAMPLE["messages"][:1], "tools": []})
    assert not validator.is_valid({**SAMPLE, "extra": 1})
    assert not validator.is_valid({"messages": [{"role": "robot", "content": "x"}] * 2, "tools": []})


def test_the_mode_is_registered_with_its_config_and_imported_when_used() -> None:
    registration = collect(make_plugin_manager(load=False, extra=[plugin])).get("modes", "tools")
    assert registration.config is ToolsConfig
    config = structure(
        {"tools": [{"name": "weather"}], "simulator": "sim"}, ToolsConfig, source="job.toml", path="$.mode"
    )
    made = registration.obj(config, None)
    assert (
        isinstance(made, ToolsMode) and made.validators()[0].name == make_tools_mode(config, None).validators()[0].name
    )
