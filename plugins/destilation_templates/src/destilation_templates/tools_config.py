"""The `tools` mode's options (the job's ``[mode]`` table) and the user's tool functions.

A tool's function is imported when the job file is read, so `destiler check` already names a
``module:function`` that does not import, and no task ever starts with a tool that cannot run.
"""

from __future__ import annotations

import importlib
import os
import re
import sys
from collections.abc import Callable
from typing import Any

import attrs

from destilation import ToolSpec
from destilation.templates import schema_error

ToolFunction = Callable[..., Any]


def load_function(reference: str) -> ToolFunction:
    """The callable `reference` (``package.module:function``) names; ValueError says what is wrong.

    Modules are looked up as `python -m` would from the current directory too, so a job run from
    a project's root can name a module of that project (``examples.tools_demo:weather``).
    """
    module_name, sep, function_name = reference.partition(":")
    if not sep or not module_name or not function_name:
        raise ValueError(f"expected module:function, got {reference!r}")
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)  # after the installed packages, so a local folder never shadows one
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:  # ImportError, or whatever the module raises while it loads
        raise ValueError(f"{reference}: cannot import {module_name}: {type(exc).__name__}: {exc}") from None
    function: ToolFunction | None = getattr(module, function_name, None)
    if not callable(function):
        raise ValueError(f"{reference}: module {module_name} has no function {function_name}")
    return function


TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
"""What every provider API accepts as a function name."""


def _name(instance: Any, attribute: attrs.Attribute[str], value: str) -> None:
    if not TOOL_NAME.match(value):
        raise ValueError(f"'{attribute.name}' must be 1 to 64 letters, digits, _ or -, got {value!r}")


def _function(instance: Any, attribute: attrs.Attribute[str | None], value: str | None) -> None:
    if value is not None:
        try:
            load_function(value)
        except ValueError as exc:
            raise ValueError(f"'{attribute.name}' {exc}") from None


def _schema(instance: Any, attribute: attrs.Attribute[Any], value: dict[str, Any] | None) -> None:
    if value is None:
        return
    problem = schema_error(value)
    if problem is not None:
        where, message = problem
        raise ValueError(f"'{attribute.name}' {where.lstrip('.') + ': ' if where else ''}{message}")


@attrs.frozen
class ToolConfig:
    """One declared tool: what the model is told about it, and where its results come from."""

    name: str = attrs.field(validator=_name)
    description: str = ""
    parameters: dict[str, Any] = attrs.field(factory=lambda: {"type": "object", "properties": {}}, validator=_schema)
    """The JSON schema of the arguments; every call's arguments are checked against it."""
    function: str | None = attrs.field(default=None, validator=_function)
    """``module:function`` called with the arguments as keywords; without it the simulator answers."""
    returns: dict[str, Any] | None = attrs.field(default=None, validator=_schema)
    """A JSON schema of the result, asked of the simulator (ignored when `function` is given)."""

    def spec(self) -> ToolSpec:
        return ToolSpec(self.name, self.description, self.parameters)


def _tools(instance: Any, attribute: attrs.Attribute[list[ToolConfig]], value: list[ToolConfig]) -> None:
    if not value:
        raise ValueError("'tools' must declare at least one tool")
    names = [tool.name for tool in value]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise ValueError(f"'tools' declares {', '.join(twice)} more than once")


@attrs.frozen
class ToolsConfig:
    """``[mode]`` of a tools job: the tools, who simulates results, how many model turns at most."""

    tools: list[ToolConfig] = attrs.field(validator=_tools)
    simulator: str | None = None
    """A provider of the job (best with ``route = false``) that invents results of tools without a function."""
    max_turns: int = attrs.field(default=6, validator=attrs.validators.ge(1))
    """Model calls per attempt at most; a conversation still calling tools then has no final answer."""
    tool_threads: int = attrs.field(default=4, validator=attrs.validators.ge(1))
    """Tool functions running at once (each in a worker thread), across the tasks of this process."""

    def __attrs_post_init__(self) -> None:
        if self.simulator is None:
            missing = [tool.name for tool in self.tools if tool.function is None]
            if missing:
                raise ValueError(
                    f"'tools' {', '.join(missing)}: no function given, and no simulator named to invent the results"
                )
