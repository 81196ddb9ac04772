"""The tools mode's `[mode]` table: what it accepts, and one line naming the key for what it refuses."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from destilation.config import structure
from destilation.errors import ConfigError
from destilation_templates.tools_config import ToolsConfig, load_function

HERE = Path(__file__).parent


@pytest.fixture(autouse=True)
def _tool_functions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HERE))


def structured(**options: Any) -> ToolsConfig:
    return structure(options, ToolsConfig, source="job.toml", path="$.mode")


def test_defaults_and_spec() -> None:
    config = structured(tools=[{"name": "add", "function": "tools_mode_functions:add"}])
    assert (config.simulator, config.max_turns, config.tool_threads) == (None, 6, 4)
    tool = config.tools[0]
    assert tool.spec().name == "add" and tool.spec().parameters == {"type": "object", "properties": {}}
    assert tool.returns is None and tool.description == ""


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({}, "$.mode.tools: required key missing"),
        ({"tools": []}, "$.mode.tools: must declare at least one tool"),
        ({"tools": [{"name": "a b", "function": "os:getcwd"}]}, "$.mode.tools[0].name: must be 1 to 64 letters"),
        (
            {"tools": [{"name": "a", "function": "os:getcwd"}, {"name": "a", "function": "os:getcwd"}]},
            "$.mode.tools: declares a more than once",
        ),
        (
            {"tools": [{"name": "a"}]},
            "$.mode.tools: a: no function given, and no simulator named to invent the results",
        ),
        ({"tools": [{"name": "a", "function": "getcwd"}]}, "$.mode.tools[0].function: expected module:function"),
        (
            {"tools": [{"name": "a", "function": "no_such_module_here:f"}]},
            "$.mode.tools[0].function: no_such_module_here:f: cannot import no_such_module_here: ModuleNotFoundError",
        ),
        (
            {"tools": [{"name": "a", "function": "tools_mode_broken:f"}]},
            "cannot import tools_mode_broken: RuntimeError: cannot start without a config",
        ),
        (
            {"tools": [{"name": "a", "function": "tools_mode_functions:missing"}]},
            "tools_mode_functions:missing: module tools_mode_functions has no function missing",
        ),
        (
            {"tools": [{"name": "a", "function": "tools_mode_functions:NOT_CALLABLE"}]},
            "module tools_mode_functions has no function NOT_CALLABLE",
        ),
        (
            {"tools": [{"name": "a", "function": "os:getcwd", "parameters": {"properties": {"x": {"type": 3}}}}]},
            "$.mode.tools[0].parameters: properties.x.type: not a valid JSON schema",
        ),
        (
            {"tools": [{"name": "a", "simulator": "s", "returns": {"type": "thing"}}], "simulator": "s"},
            "$.mode.tools[0].simulator: unknown key",
        ),
        ({"tools": [{"name": "a", "returns": {"type": []}}], "simulator": "s"}, "$.mode.tools[0].returns: "),
        ({"tools": [{"name": "a", "function": "os:getcwd"}], "max_turns": 0}, "$.mode.max_turns: must be >= 1"),
        ({"tools": [{"name": "a", "function": "os:getcwd"}], "extra": 1}, "$.mode.extra: unknown key"),
    ],
)
def test_bad_tables_are_one_line_naming_the_key(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        structured(**options)
    text = str(refused.value)
    assert text.startswith("job.toml: ") and message in text and "\n" not in text


def test_a_schema_problem_names_the_keyword() -> None:
    with pytest.raises(ConfigError, match=r"\$\.mode\.tools\[0\]\.parameters: type: not a valid JSON schema"):
        structured(tools=[{"name": "a", "function": "os:getcwd", "parameters": {"type": "thing"}}])


def test_a_tool_without_function_is_fine_with_a_simulator() -> None:
    config = structured(tools=[{"name": "a", "returns": {"type": "object"}}], simulator="sim")
    assert config.tools[0].function is None and config.simulator == "sim"


def test_modules_are_found_from_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "project_tools_here").mkdir()
    (tmp_path / "project_tools_here" / "demo.py").write_text("def ping():\n    return 'pong'\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", os.getcwd())])
    assert load_function("project_tools_here.demo:ping")() == "pong"
    assert sys.path[-1] == str(tmp_path)  # after the installed packages, so nothing local shadows them
    load_function("project_tools_here.demo:ping")
    assert sys.path.count(str(tmp_path)) == 1
