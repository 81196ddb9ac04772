"""Formats of conversations the mock job cannot produce yet: tool calls, several turns, a system turn."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from destilation import Sample
from destilation.domain import ToolCall, ToolSpec
from destilation.errors import ConfigError
from destilation_export.command import json_line, row_of
from destilation_export.conversation import (
    ConversationMap,
    ExportError,
    job_tools,
    mapping_for,
    parse_fields,
    to_conversation,
)
from destilation_export.formats import FORMATS, chat_messages

WEATHER = ToolSpec(
    "weather",
    "Today's weather in a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
TRACE = [
    {"role": "system", "content": "You help travellers."},
    {"role": "user", "content": "Is it warm in Lisbon?"},
    {
        "role": "assistant",
        "content": "",
        "reasoning": "I should look the weather up.",
        "tool_calls": [{"id": "c1", "name": "weather", "arguments": {"city": "Lisbon"}}],
    },
    {"role": "tool", "content": '{"temp": 24}', "tool_call_id": "c1"},
    {"role": "assistant", "content": "Yes, 24 °C.", "reasoning": "24 is warm."},
    {"role": "user", "content": "And tomorrow?"},
    {"role": "assistant", "content": "Much the same.", "reasoning": "No forecast tool; say so gently."},
]


def sample(content: Any, index: int = 0, **fields: Any) -> Sample:
    values: dict[str, Any] = {
        "job": "trips",
        "task_index": index,
        "content": content,
        "content_hash": f"h{index}",
        "template_id": "tools",
        "template_version": "1",
        "provider": "teacher",
        "model": "m",
        "attempts": 1,
        "seq": index + 1,
    } | fields
    return Sample(**values)


def rows(fmt: str, *samples: Sample, field: str = "reasoning_content") -> list[dict[str, Any]]:
    builder = FORMATS[fmt]
    assert builder is not None
    return [row_of(s, builder, mapping_for(s.template_id), (WEATHER,), field)[0] for s in samples]


def test_openai_chat_tool_calls_carry_json_string_arguments() -> None:
    [row] = rows("openai-chat", sample({"messages": TRACE}))
    call = row["messages"][2]
    assert call["tool_calls"] == [
        {"id": "c1", "type": "function", "function": {"name": "weather", "arguments": '{"city": "Lisbon"}'}}
    ]
    assert row["messages"][3] == {"role": "tool", "content": '{"temp": 24}', "tool_calls": None, "tool_call_id": "c1"}
    assert row["tools"] == [
        {
            "type": "function",
            "function": {"name": "weather", "description": WEATHER.description, "parameters": WEATHER.parameters},
        }
    ]
    # The OpenAI format has no reasoning field: reasoning is left out unless think tags are asked for.
    assert "look the weather up" not in json.dumps(row)
    [tagged] = rows("openai-chat", sample({"messages": TRACE}), field="think-tags")
    assert tagged["messages"][4]["content"] == "<think>\n24 is warm.\n</think>\n\nYes, 24 °C."


def test_trl_messages_name_the_tool_of_each_result() -> None:
    [row] = rows("trl-messages", sample({"messages": TRACE}), field="thinking")
    roles = [m["role"] for m in row["messages"]]
    assert roles == ["system", "user", "assistant", "tool", "assistant", "user", "assistant"]
    assert row["messages"][3]["name"] == "weather"
    assert row["messages"][1]["name"] is None
    assert row["messages"][2]["thinking"] == "I should look the weather up."
    assert {frozenset(m) for m in row["messages"]} == {
        frozenset({"role", "content", "thinking", "tool_calls", "tool_call_id", "name"})
    }


def test_prompt_completion_cuts_after_the_last_user_turn() -> None:
    [row] = rows("trl-prompt-completion", sample({"messages": TRACE}))
    assert [m["role"] for m in row["prompt"]][-1] == "user"
    assert len(row["prompt"]) == 6
    assert [m["content"] for m in row["completion"]] == ["Much the same."]


def test_sharegpt_has_function_call_and_observation_turns() -> None:
    [row] = rows("sharegpt", sample({"messages": TRACE}))
    assert [t["from"] for t in row["conversations"]] == [
        "human", "function_call", "gpt", "observation", "gpt", "human", "gpt"
    ]  # fmt: skip
    assert json.loads(row["conversations"][1]["value"]) == {"name": "weather", "arguments": {"city": "Lisbon"}}
    assert row["conversations"][2]["value"].startswith("<think>\nI should look")
    assert row["system"] == "You help travellers."
    assert json.loads(row["tools"]) == [
        {"name": "weather", "description": WEATHER.description, "parameters": WEATHER.parameters}
    ]


def test_a_call_without_arguments_has_an_empty_object() -> None:
    trace = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "", "tool_calls": [{"name": "now"}]}]
    [row] = rows("openai-chat", sample({"messages": trace}))
    assert row["messages"][1]["tool_calls"][0]["function"] == {"name": "now", "arguments": "{}"}


def test_sharegpt_keeps_arguments_that_are_not_json_as_text() -> None:
    trace = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "", "tool_calls": [{"name": "weather", "arguments": "Lisbon"}]},
    ]
    [row] = rows("sharegpt", sample({"messages": trace}))
    assert [t["from"] for t in row["conversations"]] == ["human", "function_call"]
    assert json.loads(row["conversations"][1]["value"])["arguments"] == "Lisbon"


def test_alpaca_keeps_earlier_exchanges_as_history() -> None:
    trace = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "one?"},
        {"role": "assistant", "content": "1"},
        {"role": "user", "content": "two?"},
        {"role": "assistant", "content": "2", "reasoning": "count on"},
    ]
    [row] = rows("alpaca", sample({"messages": trace}))
    assert row == {
        "instruction": "two?",
        "input": "",
        "output": "<think>\ncount on\n</think>\n\n2",
        "system": "Be brief.",
        "history": [["one?", "1"]],
    }


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"messages": TRACE}, "alpaca has no place for tool calls"),
        ({"messages": [{"role": "user", "content": "alone"}]}, "alpaca needs a user turn answered by the assistant"),
    ],
)
def test_alpaca_refuses_what_it_cannot_carry(content: Any, message: str) -> None:
    with pytest.raises(ExportError) as caught:
        rows("alpaca", sample(content, index=7))
    assert str(caught.value).startswith("task trips/7: ") and message in str(caught.value)


def test_a_sample_s_own_reasoning_and_tool_calls_go_on_the_answer() -> None:
    s = sample(
        {"prompt": "p", "response": "r"},
        template_id="mine",
        reasoning="because",
        tool_calls=(ToolCall("c", "weather", "{}"),),
    )
    conversation = to_conversation(s, mapping_for("mine"))
    assert [m.role for m in conversation.messages] == ["user", "assistant"]
    answer = conversation.messages[1]
    assert (answer.content, answer.reasoning, answer.tool_calls) == ("r", "because", s.tool_calls)


def test_content_reasoning_and_a_system_field_are_used() -> None:
    s = sample({"sys": "S", "instruction": "i", "output": "o", "reasoning": "why"}, template_id="x")
    mapping = parse_fields("system=sys, user=instruction")
    messages = to_conversation(s, mapping).messages
    assert [(m.role, m.content) for m in messages] == [("system", "S"), ("user", "i"), ("assistant", "o")]
    assert messages[2].reasoning == "why"


def test_a_non_object_content_is_the_answer_of_nothing() -> None:
    with pytest.raises(ExportError, match="no user text"):
        to_conversation(sample("just text", template_id="x"), ConversationMap())


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ({"messages": "hi"}, "its content field 'messages' is not a list of messages"),
        ({"messages": [{"content": "no role"}]}, "a conversation message is not an object with a role"),
        ({"messages": [{"role": "assistant", "tool_calls": [{"id": "c"}]}]}, "tool_calls of the assistant message are"),
        ({"messages": [{"role": "assistant", "tool_calls": "calc"}]}, "are not objects with a name: 'calc'"),
        ({"question": "q"}, "its content has no assistant text (looked for answer, response, output, completion)"),
    ],
)
def test_content_that_is_no_conversation_is_named(content: Any, message: str) -> None:
    with pytest.raises(ExportError) as caught:
        to_conversation(sample(content, template_id="x"), ConversationMap())
    assert message in str(caught.value)


def test_the_simple_template_maps_question_and_answer() -> None:
    assert mapping_for("simple") == ConversationMap(user="question", assistant="answer")
    override = ConversationMap(messages="turns")
    assert mapping_for("simple", override) is override


@pytest.mark.parametrize("text", ["user", "user=", "who=q", "user=q,,"])
def test_bad_fields_text(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^--fields: "):
        parse_fields(text)


def test_job_tools_come_from_the_spec() -> None:
    spec = {
        "tools": [{"name": "weather", "description": WEATHER.description, "parameters": WEATHER.parameters}, "junk"]
    }
    assert job_tools(spec) == (WEATHER,)
    assert job_tools({"tools": "none"}) == ()
    assert job_tools({}) == ()
    # a tools mode declares them in its [mode] table
    assert job_tools({"mode": {"tools": spec["tools"]}}) == (WEATHER,)
    assert job_tools({"mode": "tools"}) == ()


def test_a_conversation_that_lists_its_tools_carries_them() -> None:
    offered = {"name": "weather", "description": WEATHER.description, "parameters": WEATHER.parameters}
    s = sample({"messages": TRACE, "tools": [offered]}, template_id="tools")
    assert to_conversation(s, mapping_for("tools")).tools == (WEATHER,)
    other = ToolSpec("other", "", {})
    assert to_conversation(sample({"messages": TRACE}), mapping_for("tools"), (other,)).tools == (other,)


def test_chat_messages_of_formats_without_messages_are_the_trl_form() -> None:
    s = sample({"messages": TRACE})
    conversation = to_conversation(s, mapping_for("tools"), (WEATHER,))
    [shared] = rows("sharegpt", s)
    assert chat_messages(shared, conversation, "thinking")[2]["thinking"] == "I should look the weather up."
    assert chat_messages(shared, conversation, "think-tags")[2]["reasoning_content"] == "I should look the weather up."
    [split] = rows("trl-prompt-completion", s)
    assert chat_messages(split, conversation, "reasoning_content") == [*split["prompt"], *split["completion"]]
    [chat] = rows("openai-chat", s)
    assert chat_messages(chat, conversation, "reasoning_content") == chat["messages"]


datasets = pytest.importorskip("datasets")


@pytest.mark.parametrize("fmt", ["openai-chat", "trl-messages", "trl-prompt-completion", "sharegpt", "alpaca"])
def test_reasoning_and_a_system_turn_first_seen_late_load_with_one_type_per_column(tmp_path: Path, fmt: str) -> None:
    plain = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    late = [{"role": "system", "content": "S"}, *plain[:1], {"role": "assistant", "content": "a", "reasoning": "r"}]
    samples = [sample({"messages": plain}, index=i) for i in range(30)] + [sample({"messages": late}, index=30)]
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(fmt, *samples)))
    # A tiny chunk size makes `datasets` read the file in many blocks, as it reads a big file.
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", chunksize=256, cache_dir=str(tmp_path))
    assert loaded.num_rows == 31


@pytest.mark.parametrize("fmt", ["openai-chat", "trl-messages", "trl-prompt-completion", "sharegpt"])
def test_tool_use_conversations_load_beside_plain_ones(tmp_path: Path, fmt: str) -> None:
    plain = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    samples = [sample({"messages": TRACE}), *(sample({"messages": plain}, index=i) for i in range(1, 31))]
    path = tmp_path / f"{fmt}.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows(fmt, *samples)))
    loaded = datasets.load_dataset("json", data_files=str(path), split="train", chunksize=256, cache_dir=str(tmp_path))
    assert loaded.num_rows == 31
    assert "Lisbon" in json.dumps(loaded[0], default=str)  # the tool call kept its structure


def test_lines_escape_unicode_line_breaks_so_every_reader_sees_one_line() -> None:
    line = json_line({"text": "a\u2028b\u2029c\x85d é"})
    assert line.count("\n") == 1 and len(line.splitlines()) == 1
    assert json.loads(line) == {"text": "a\u2028b\u2029c\x85d é"}
