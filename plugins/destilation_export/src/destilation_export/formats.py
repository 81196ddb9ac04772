"""Export formats: one row (a JSON object) per conversation, with the same keys on every row.

Every message of a format has the same keys too, so Arrow and `datasets` infer one type per
column. Text that may be empty on any row (reasoning, system) is "" rather than null: `datasets`
types a column from its first 10 MB block, and a null-only block refuses a string after it.
Fields only tool use fills (tool_calls, tool_call_id, name) stay null elsewhere, as the OpenAI
format has them.
"""

from __future__ import annotations

import json
from collections.abc import Callable

from destilation.domain import JSON, Message, ToolSpec
from destilation_export.conversation import Conversation

REASONING_FIELDS = ("reasoning_content", "thinking", "think-tags")
"""Where assistant reasoning goes: a message field of that name, or ``<think>`` tags in the content."""

Row = dict[str, JSON]
Builder = Callable[[Conversation, str], Row]


class CannotCarry(ValueError):
    """The format has no place for part of this conversation (tool calls in Alpaca)."""


def with_think_tags(message: Message) -> str:
    if message.reasoning:
        return f"<think>\n{message.reasoning}\n</think>\n\n{message.content}"
    return message.content


def function_tools(tools: tuple[ToolSpec, ...]) -> list[JSON]:
    """Tools as OpenAI / Hugging Face JSON schemas."""
    return [
        {"type": "function", "function": {"name": t.name, "description": t.description, "parameters": t.parameters}}
        for t in tools
    ]


def _calls(message: Message) -> list[JSON] | None:
    if not message.tool_calls:
        return None
    return [
        {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
        for c in message.tool_calls
    ]


def _tool_names(conversation: Conversation) -> dict[str, str]:
    return {c.id: c.name for m in conversation.messages for c in m.tool_calls}


def openai_messages(conversation: Conversation, reasoning_field: str) -> list[JSON]:
    """OpenAI chat messages; reasoning survives only as think tags (the format has no field for it)."""
    tags = reasoning_field == "think-tags"
    return [
        {
            "role": m.role,
            "content": with_think_tags(m) if tags else m.content,
            "tool_calls": _calls(m),
            "tool_call_id": m.tool_call_id,
        }
        for m in conversation.messages
    ]


def trl_messages(conversation: Conversation, reasoning_field: str) -> list[JSON]:
    """TRL / Hugging Face chat-template messages, reasoning in the chosen field or as think tags."""
    names = _tool_names(conversation)
    out: list[JSON] = []
    for m in conversation.messages:
        row: dict[str, JSON] = {"role": m.role}
        if reasoning_field == "think-tags":
            row["content"] = with_think_tags(m)
        else:
            row["content"] = m.content
            row[reasoning_field] = m.reasoning or ""
        row["tool_calls"] = _calls(m)
        row["tool_call_id"] = m.tool_call_id
        row["name"] = names.get(m.tool_call_id or "") if m.role == "tool" else None
        out.append(row)
    return out


def openai_chat(conversation: Conversation, reasoning_field: str) -> Row:
    return {"messages": openai_messages(conversation, reasoning_field), "tools": function_tools(conversation.tools)}


def trl_messages_row(conversation: Conversation, reasoning_field: str) -> Row:
    return {"messages": trl_messages(conversation, reasoning_field), "tools": function_tools(conversation.tools)}


def trl_prompt_completion(conversation: Conversation, reasoning_field: str) -> Row:
    """Prompt = every message up to the last user turn; completion = what the assistant did after it."""
    messages = trl_messages(conversation, reasoning_field)
    cut = max(i for i, m in enumerate(conversation.messages) if m.role == "user") + 1
    return {"prompt": messages[:cut], "completion": messages[cut:], "tools": function_tools(conversation.tools)}


def sharegpt(conversation: Conversation, reasoning_field: str) -> Row:
    """LLaMA-Factory ShareGPT: human / gpt / function_call / observation turns, tools as a JSON string."""
    system = ""
    turns: list[JSON] = []
    for m in conversation.messages:
        if m.role == "system":
            system = m.content
        elif m.role == "user":
            turns.append({"from": "human", "value": m.content})
        elif m.role == "tool":
            turns.append({"from": "observation", "value": m.content})
        else:
            for c in m.tool_calls:
                call = {"name": c.name, "arguments": _arguments(c.arguments)}
                turns.append({"from": "function_call", "value": json.dumps(call, ensure_ascii=False)})
            if m.content or m.reasoning or not m.tool_calls:
                turns.append({"from": "gpt", "value": with_think_tags(m)})
    tools = [{"name": t.name, "description": t.description, "parameters": t.parameters} for t in conversation.tools]
    return {"conversations": turns, "system": system, "tools": json.dumps(tools, ensure_ascii=False) if tools else ""}


def _arguments(text: str) -> JSON:
    try:
        return json.loads(text)
    except ValueError:
        return text  # the model's own text, kept as it was


def alpaca(conversation: Conversation, reasoning_field: str) -> Row:
    """Instruction / output of the last exchange; earlier exchanges go to `history`."""
    if any(m.tool_calls or m.role == "tool" for m in conversation.messages):
        raise CannotCarry("alpaca has no place for tool calls; export openai-chat, trl-messages or sharegpt")
    system = next((m.content for m in conversation.messages if m.role == "system"), "")
    pairs: list[list[str]] = []
    question: str | None = None
    for m in conversation.messages:
        if m.role == "user":
            question = m.content
        elif m.role == "assistant" and question is not None:
            pairs.append([question, with_think_tags(m)])
            question = None
    if not pairs:
        raise CannotCarry("alpaca needs a user turn answered by the assistant")
    *history, (instruction, output) = pairs
    return {"instruction": instruction, "input": "", "output": output, "system": system, "history": history}


FORMATS: dict[str, Builder | None] = {
    "openai-chat": openai_chat,
    "trl-messages": trl_messages_row,
    "trl-prompt-completion": trl_prompt_completion,
    "sharegpt": sharegpt,
    "alpaca": alpaca,
    "dpo": None,
}
"""Every format `destiler export` knows; None: built from a task's attempts too (`destilation_export.dpo`)."""


def chat_messages(row: Row, conversation: Conversation, reasoning_field: str) -> list[JSON]:
    """The messages a chat template renders for this row: its own, or the conversation's TRL form."""
    if "messages" in row:
        return list(row["messages"])
    if "prompt" in row:
        return [*row["prompt"], *row["completion"]]
    return trl_messages(conversation, "thinking" if reasoning_field == "thinking" else "reasoning_content")
