"""The `tools` mode: a real multi-turn loop of tool calls, tool results and a final answer.

Each turn sends the conversation so far with the declared tools (the first turn goes where the
task's route sends it, the later ones to the same provider); a reply with tool calls gets
each tool's result (the user's function, or the simulator provider inventing one) appended and
the model is asked again, until it answers without calling a tool or `max_turns` is reached.
The candidate is the whole conversation, ``{"messages": [...], "tools": [...]}``, with each
call's `arguments` kept as the JSON text the model sent (what fine-tuning formats expect).

A turn whose calls cannot be run (a tool nobody declared, arguments that are not valid for the
tool) ends the loop there: the sample is lost anyway, and the mode's validators
(`destilation_templates.tool_rules`) say which rule it broke, which goes into the next attempt's prompt.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

import anyio
import attrs

from destilation import Generation, Message, PluginContext, ProviderInfo, ToolCall, ToolSpec, Validator
from destilation.config import JobSpec
from destilation.errors import ConfigError, JobError
from destilation.modes import ModeContext, Production, combine
from destilation_templates.tool_rules import ToolRules, parse_arguments
from destilation_templates.tools_config import ToolConfig, ToolFunction, ToolsConfig, load_function

SIMULATOR_PROMPT = """\
You stand in for the tool {name!r} of a software system. Its description: {description}
Its parameters follow this JSON schema: {parameters}
Answer with what the tool returns for the call you are given: a realistic, self-consistent \
result as one JSON value, and nothing else."""


class ToolFailed(JobError):
    """A user's tool function raised or returned something that is not JSON: the job stops, one line."""


def message_json(message: Message, names: dict[str, str]) -> dict[str, Any]:
    """One turn as the content stores it; a tool result also names its tool (`names`: call id → tool)."""
    out: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.reasoning:
        out["reasoning"] = message.reasoning
    if message.tool_calls:
        out["tool_calls"] = [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in message.tool_calls]
    if message.tool_call_id is not None:
        out["tool_call_id"] = message.tool_call_id
        out["name"] = names.get(message.tool_call_id, "")
    return out


def conversation_json(messages: Sequence[Message], tools: Sequence[ToolSpec]) -> dict[str, Any]:
    names = {call.id: call.name for m in messages for call in m.tool_calls}
    return {
        "messages": [message_json(m, names) for m in messages],
        "tools": [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in tools],
    }


def unique_ids(calls: Sequence[ToolCall], used: set[str], turn: int) -> tuple[ToolCall, ...]:
    """The calls with ids no earlier call of the conversation has (Ollama numbers each reply from 0).

    A result is matched to its call by id, so two calls sharing one would make the trace ambiguous.
    """
    out = []
    for i, call in enumerate(calls):
        call_id = call.id
        if not call_id or call_id in used:
            call_id = f"call_{turn}_{i}"
            while call_id in used:
                call_id += "_"
        used.add(call_id)
        out.append(attrs.evolve(call, id=call_id))
    return tuple(out)


class ToolsMode:
    """Runs the tool loop; see the module docstring."""

    name = "tools"

    def __init__(self, config: ToolsConfig) -> None:
        self._config = config
        self._tools: dict[str, ToolConfig] = {tool.name: tool for tool in config.tools}
        self._specs = tuple(tool.spec() for tool in config.tools)
        self._functions: dict[str, ToolFunction] = {
            tool.name: load_function(tool.function) for tool in config.tools if tool.function is not None
        }
        self._rules = ToolRules({tool.name: tool.parameters for tool in config.tools})
        self._limiter: anyio.CapacityLimiter | None = None

    def validators(self) -> Sequence[Validator]:
        return (self._rules,)

    def check_job(self, spec: JobSpec, source: str) -> None:
        """The simulator is one of the job's providers (wiring calls this, so `check` says it too)."""
        simulator = self._config.simulator
        if simulator is not None and simulator not in spec.providers:
            have = ", ".join(spec.providers) or "none"
            raise ConfigError(source, f"no provider named {simulator!r} (the job has {have})", "$.mode.simulator")

    async def produce(self, context: ModeContext) -> Production:
        template = context.template
        rendered = template.render(context.task.seed, context.feedback)[len(template.preamble) :]
        opening = [Message("system", template.system_prompt)] if template.system_prompt else []
        opening.append(rendered[0])  # the user's request; the feedback after it is for the teacher only
        asked = [*opening, *rendered[1:]]
        turns: list[Message] = []
        generations: list[Generation] = []
        used: set[str] = set()
        info: ProviderInfo | None = None
        prompt: tuple[Message, ...] = ()
        for turn in range(self._config.max_turns):
            request = context.request([*asked, *turns], response_schema=None, tools=self._specs)
            # The route picks the teacher of the first turn; the later turns stay with it (through its
            # call policy), so one conversation is one model's and its lineage names that model.
            info, generation = await context.call(request, None if info is None else info.name)
            prompt = request.messages
            generations.append(generation)
            calls = unique_ids(generation.tool_calls, used, turn)
            turns.append(Message("assistant", generation.text, reasoning=generation.reasoning, tool_calls=calls))
            if not calls or not all(self._rules.runnable(call) for call in calls):
                break
            for call in calls:
                result, spent = await self._result(call, opening[-1].content, context)
                generations.extend(spent)
                turns.append(Message("tool", result, tool_call_id=call.id))
        assert info is not None  # max_turns >= 1: the loop asked at least once
        content = conversation_json([*opening, *turns], self._specs)
        all_calls = tuple(call for message in turns for call in message.tool_calls)
        final = combine(generations, json.dumps(content, ensure_ascii=False))
        return Production(attrs.evolve(final, tool_calls=all_calls), prompt, info, calls=len(generations))

    async def _result(self, call: ToolCall, request: str, context: ModeContext) -> tuple[str, list[Generation]]:
        """The tool's result as text, and the simulator's generation when one invented it."""
        function = self._functions.get(call.name)
        if function is None:
            return await self._simulate(call, request, context)
        arguments = parse_arguments(call.arguments)
        if self._limiter is None:
            self._limiter = anyio.CapacityLimiter(self._config.tool_threads)
        where = f"tool {call.name!r} ({self._tools[call.name].function})"
        try:
            value = await anyio.to_thread.run_sync(functools.partial(function, **arguments), limiter=self._limiter)
        except Exception as exc:
            shown = call.arguments if len(call.arguments) <= 200 else call.arguments[:200] + "…"
            raise ToolFailed(f"{where} failed on {shown}: {type(exc).__name__}: {exc}") from None
        if isinstance(value, str):
            return value, []
        try:
            return json.dumps(value, ensure_ascii=False), []
        except (TypeError, ValueError) as exc:
            raise ToolFailed(f"{where} returned a {type(value).__name__}, which is not JSON: {exc}") from None

    async def _simulate(self, call: ToolCall, request: str, context: ModeContext) -> tuple[str, list[Generation]]:
        tool = self._tools[call.name]
        system = SIMULATOR_PROMPT.format(
            name=tool.name,
            description=tool.description or "(none given)",
            parameters=json.dumps(tool.parameters, separators=(",", ":")),
        )
        user = f"The user asked: {request}\nThe call's arguments: {call.arguments}"
        asked = context.request(
            [Message("system", system), Message("user", user)], response_schema=tool.returns, reasoning=False
        )
        assert self._config.simulator is not None  # the config refuses a tool with neither
        _, generation = await context.call(asked, self._config.simulator)
        return generation.text.strip(), [generation]


def make_tools_mode(config: ToolsConfig | None, context: PluginContext) -> ToolsMode:
    if config is None:  # the engine structures even an absent [mode] table; a direct caller may not
        raise ConfigError("the job", "the tools mode needs a [mode] table declaring its tools", "$.mode.tools")
    return ToolsMode(config)
