"""The `tools` mode's validator: the rules a tool-use conversation must keep to be training data.

Each rule has its own issue code, so a rejected task says which one it broke:
``tool_unknown`` (a call names no declared tool), ``tool_arguments`` (arguments that are not a
JSON object valid for the tool's parameters schema), ``tool_no_result`` (a call without a tool
result of the same id, or a result for no call), ``tool_no_answer`` (the conversation does not
end with an assistant answer). Content that is not a conversation at all is ``tool_conversation``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
from jsonschema import validators  # type: ignore[import-untyped]

from destilation import Candidate, Issue, ToolCall, ValidationContext, Verdict
from destilation.domain import JSON


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def parse_arguments(text: str) -> dict[str, Any]:
    """A call's arguments as the object they must be; ValueError says why they are not one."""
    value = json.loads(text, parse_constant=_refuse_constant)
    if not isinstance(value, dict):
        raise ValueError(f"they are a JSON {type(value).__name__}, not an object")
    return value


@attrs.define
class ToolRules:
    """Checks a conversation against the declared tools (name → JSON schema of its arguments)."""

    parameters: Mapping[str, dict[str, JSON]]
    name: str = "tool_rules"
    _checkers: dict[str, Any] = attrs.field(init=False, factory=dict)

    def __attrs_post_init__(self) -> None:
        for tool, schema in self.parameters.items():
            self._checkers[tool] = validators.validator_for(schema)(schema)

    def argument_problem(self, call: ToolCall) -> str | None:
        """Why `call`'s arguments do not fit its (declared) tool, or None when they do."""
        try:
            arguments = parse_arguments(call.arguments)
        except (ValueError, RecursionError) as exc:
            return f"the arguments of {call.name!r} are not a JSON object: {exc}"
        error = validators.exceptions.best_match(self._checkers[call.name].iter_errors(arguments))
        if error is None:
            return None
        where = "" if error.json_path == "$" else f" at {error.json_path}"
        return f"the arguments of {call.name!r} do not fit its parameters schema{where}: {error.message}"

    def runnable(self, call: ToolCall) -> bool:
        """Whether the mode can run `call`: a declared tool with fitting arguments."""
        return call.name in self._checkers and self.argument_problem(call) is None

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        content = candidate.content if candidate.parsed else _parse(candidate.generation.text)
        messages = content.get("messages") if isinstance(content, dict) else None
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            issue = Issue(
                "tool_conversation",
                "the content holds no conversation (a `messages` list of objects)",
                hint="the tools mode writes the conversation itself; keep the `tools` template's schema",
            )
            return Verdict((issue,))
        return Verdict(tuple(self._issues(messages)), content=content)

    def _issues(self, messages: list[dict[str, JSON]]) -> list[Issue]:
        issues: list[Issue] = []
        declared = ", ".join(self.parameters)
        open_calls: dict[str, str] = {}
        """Ids of calls without a result yet → where the call is."""
        broken: set[str] = set()
        """Ids of calls naming an unknown tool or with misfit arguments."""
        for i, message in enumerate(messages):
            if message.get("role") == "tool":
                call_id = message.get("tool_call_id")
                if open_calls.pop(str(call_id), None) is None:
                    issues.append(
                        Issue(
                            "tool_no_result",
                            f"tool result {call_id!r} answers no call made before it",
                            f"$.messages[{i}].tool_call_id",
                            hint="give each tool result the id of the call it answers",
                        )
                    )
                continue
            calls = message.get("tool_calls")
            for j, raw in enumerate(calls if isinstance(calls, list) else []):
                where = f"$.messages[{i}].tool_calls[{j}]"
                raw = raw if isinstance(raw, dict) else {}
                call = ToolCall(str(raw.get("id", "")), str(raw.get("name", "")), _text(raw.get("arguments")))
                open_calls[call.id] = where
                if call.name not in self._checkers:
                    broken.add(call.id)
                    issues.append(
                        Issue(
                            "tool_unknown",
                            f"the call names {call.name!r}, which is not a declared tool",
                            f"{where}.name",
                            hint=f"call only the declared tools: {declared}",
                        )
                    )
                    continue
                problem = self.argument_problem(call)
                if problem is not None:
                    broken.add(call.id)
                    issues.append(
                        Issue(
                            "tool_arguments",
                            problem,
                            f"{where}.arguments",
                            hint=f"send the arguments of {call.name} as a JSON object matching its parameters schema",
                        )
                    )
        last = messages[-1] if messages else {}
        content, last_calls = last.get("content"), last.get("tool_calls")
        last_ids = (
            {str(c.get("id", "")) for c in last_calls if isinstance(c, dict)} if isinstance(last_calls, list) else set()
        )
        # The mode stops at a turn with a call it cannot run: that turn's missing results and the
        # missing answer follow from the broken call, which is the issue to fix.
        stopped = bool(last_ids & broken)
        for call_id, where in open_calls.items():
            if call_id in broken or (stopped and call_id in last_ids):
                continue
            issues.append(
                Issue(
                    "tool_no_result",
                    f"the call {call_id!r} has no tool result with its id",
                    f"{where}.id",
                    hint="every tool call needs its result before the conversation goes on",
                )
            )
        answered = last.get("role") == "assistant" and not last_calls
        if not stopped and not (answered and isinstance(content, str) and content.strip()):
            issues.append(
                Issue(
                    "tool_no_answer",
                    "the conversation does not end with an assistant answer",
                    f"$.messages[{len(messages) - 1}]" if messages else "$.messages",
                    hint="after the tool results, answer the user in plain text without calling a tool",
                )
            )
        return issues


def _parse(text: str) -> JSON:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return None


def _text(value: JSON) -> str:
    """Arguments as text: the model's JSON string, or an object someone stored parsed."""
    return value if isinstance(value, str) else json.dumps(value)
