"""A sample as a conversation: the one shape every export format is written from.

How a template's content becomes messages is a small, typed mapping (`ConversationMap`) per
template id. A mode whose content is already a conversation (a `messages` list of chat
messages, as a tools mode writes) names that field; a question/answer template names its two
fields. Content with a ``messages`` list is taken as a conversation without being told. Content
with none of the usual field names (a custom schema's) is exported as what it was asked and what
it answered: the task's prompt as the user turn and the content, as JSON text, as the assistant's;
``destiler export --fields user=FIELD,assistant=FIELD`` names other fields.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs

from destilation import Sample
from destilation.domain import JSON, Message, ToolCall, ToolSpec
from destilation.errors import ConfigError

USER_FIELDS = ("question", "prompt", "instruction", "input", "query")
ASSISTANT_FIELDS = ("answer", "response", "output", "completion")


@attrs.frozen
class ConversationMap:
    """Which content fields hold the turns; None means "guess from the usual names"."""

    user: str | None = None
    assistant: str | None = None
    system: str | None = None
    messages: str | None = None
    """A content field that already holds the whole conversation as chat messages."""


BUILTIN_MAPS: dict[str, ConversationMap] = {"simple": ConversationMap(user="question", assistant="answer")}
"""Mappings of the templates shipped with Destilation, by template id."""


@attrs.frozen
class Conversation:
    """What every format is written from: the turns in order and the tools offered."""

    messages: tuple[Message, ...]
    tools: tuple[ToolSpec, ...] = ()


class ExportError(ConfigError):
    """A sample the chosen format cannot carry: one line naming the task, exit 2."""

    def __init__(self, sample: Sample, message: str) -> None:
        super().__init__(f"task {sample.job}/{sample.task_index}", message)


def mapping_for(template_id: str, override: ConversationMap | None = None) -> ConversationMap:
    """``--fields`` when given, else the built-in map of the template, else the usual field names."""
    if override is not None:
        return override
    return BUILTIN_MAPS.get(template_id, ConversationMap())


def parse_fields(text: str) -> ConversationMap:
    """``user=question,assistant=answer`` (or ``messages=conversation``) as a map; bad text exits 2."""
    known = attrs.fields_dict(ConversationMap)
    fields: dict[str, str] = {}
    for part in text.split(","):
        role, sep, field = (p.strip() for p in part.partition("="))
        if not sep or role not in known or not field:
            raise ConfigError("--fields", f"{part.strip()!r} is not ROLE=FIELD with ROLE one of {', '.join(known)}")
        fields[role] = field
    return ConversationMap(**fields)


def job_tools(spec: Mapping[str, JSON]) -> tuple[ToolSpec, ...]:
    """Tools the job declares (``[[tools]]`` or a tools mode's ``[[mode.tools]]``: name, description, parameters)."""
    tools = spec.get("tools")
    if not isinstance(tools, list):
        mode = spec.get("mode")
        tools = mode.get("tools") if isinstance(mode, dict) else None
    return tool_specs(tools)


def tool_specs(tools: JSON) -> tuple[ToolSpec, ...]:
    """A list of tool tables (name, description, parameters) as ToolSpecs; anything else is none."""
    if not isinstance(tools, list):
        return ()
    return tuple(
        ToolSpec(str(t["name"]), str(t.get("description", "")), dict(t.get("parameters") or {}))
        for t in tools
        if isinstance(t, dict) and "name" in t
    )


def _text(sample: Sample, content: Mapping[str, JSON], field: str | None, names: tuple[str, ...], what: str) -> str:
    wanted = (field,) if field else names
    for name in wanted:
        value = content.get(name)
        if isinstance(value, str):
            return value
    raise ExportError(
        sample,
        f"its content has no {what} text (looked for {', '.join(wanted)}); name it with --fields ROLE=FIELD",
    )


def _prompt(sample: Sample) -> str | None:
    """The task's own request: the first user turn of the prompt the sample was accepted on (no feedback)."""
    return next((m.content for m in sample.messages if m.role == "user"), None)


def _message(sample: Sample, raw: JSON) -> Message:
    if not isinstance(raw, dict) or not isinstance(raw.get("role"), str):
        raise ExportError(sample, f"a conversation message is not an object with a role: {raw!r:.80}")
    calls = raw.get("tool_calls") or []
    if not isinstance(calls, list) or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise ExportError(sample, f"tool_calls of the {raw['role']} message are not objects with a name: {calls!r:.80}")
    reasoning, call_id = raw.get("reasoning"), raw.get("tool_call_id")
    return Message(
        role=raw["role"],
        content=str(raw.get("content") or ""),
        reasoning=reasoning if isinstance(reasoning, str) else None,
        tool_calls=tuple(ToolCall(str(c.get("id", "")), c["name"], _arguments(c.get("arguments"))) for c in calls),
        tool_call_id=call_id if isinstance(call_id, str) else None,
    )


def _arguments(value: JSON) -> str:
    """Arguments as the JSON text a model sends; an object a mode stored parsed is dumped back."""
    if isinstance(value, str):
        return value
    return json.dumps({} if value is None else value, ensure_ascii=False)


def to_conversation(sample: Sample, mapping: ConversationMap, tools: tuple[ToolSpec, ...] = ()) -> Conversation:
    """The sample's conversation; its reasoning and tool calls go on the final assistant turn."""
    content = sample.content if isinstance(sample.content, dict) else {"output": sample.content}
    listed = mapping.messages or ("messages" if mapping == ConversationMap() and "messages" in content else None)
    if listed:
        raw = content.get(listed)
        if not isinstance(raw, list) or not raw:
            raise ExportError(sample, f"its content field {listed!r} is not a list of messages")
        # A conversation that lists the tools it was offered (the tools mode's) carries those.
        return Conversation(tuple(_message(sample, m) for m in raw), tool_specs(content.get("tools")) or tools)
    messages: list[Message] = []
    if mapping.system and isinstance(content.get(mapping.system), str):
        messages.append(Message("system", content[mapping.system]))
    guessed = mapping.user is None and mapping.assistant is None
    prompt = _prompt(sample) if guessed and not any(isinstance(content.get(n), str) for n in USER_FIELDS) else None
    if prompt is not None:  # a schema of its own: the prompt it was asked, the JSON it answered
        messages.append(Message("user", prompt))
        answer = json.dumps(content, ensure_ascii=False)
    else:
        messages.append(Message("user", _text(sample, content, mapping.user, USER_FIELDS, "user")))
        answer = _text(sample, content, mapping.assistant, ASSISTANT_FIELDS, "assistant")
    reasoning = sample.reasoning if sample.reasoning is not None else content.get("reasoning")
    messages.append(
        Message(
            "assistant",
            answer,
            reasoning=reasoning if isinstance(reasoning, str) else None,
            tool_calls=sample.tool_calls,
        )
    )
    return Conversation(tuple(messages), tools)
