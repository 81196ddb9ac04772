"""`--chat-template`: rows a student's template cannot render, or renders without their content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from export_support import Workspace

from destilation.errors import ConfigError
from destilation_export.chat_template import TemplateCheck, load

# Shaped like the stock Qwen3 template: reasoning only on assistant turns after the last user turn.
DROPS_EARLIER_REASONING = """
{%- set ns = namespace(last_user=0) %}
{%- for m in messages %}{% if m.role == 'user' %}{% set ns.last_user = loop.index0 %}{% endif %}{% endfor %}
{%- for m in messages %}
<|{{ m.role }}|>
{%- if m.role == 'assistant' and loop.index0 > ns.last_user and m.reasoning_content %}
<think>{{ m.reasoning_content }}</think>
{%- endif %}
{{ m.content }}
{%- for call in m.tool_calls or [] %}<call>{{ call.function | tojson }}</call>{% endfor %}
{%- endfor %}
"""
KEEPS_EVERYTHING = (
    "{% for m in messages %}{% generation %}<|{{ m.role }}|>{{ m.reasoning_content or '' }}{{ m.content }}"
    "{% endgeneration %}{% endfor %}"
)
NO_TOOLS = (
    "{% for m in messages %}{% if m.role == 'tool' %}{{ raise_exception('no tool role') }}{% endif %}"
    "{{ m.content }}{% endfor %}"
)


def message(role: str, content: str, reasoning: str = "", calls: list[str] = ()) -> dict[str, Any]:  # type: ignore[assignment]
    tool_calls = [{"id": n, "type": "function", "function": {"name": n, "arguments": "{}"}} for n in calls]
    return {"role": role, "content": content, "reasoning_content": reasoning, "tool_calls": tool_calls or None}


TWO_TURNS = [
    message("user", "first question"),
    message("assistant", "first answer", reasoning="first chain of thought"),
    message("user", "second question"),
    message("assistant", "second answer", reasoning="second chain of thought"),
]


def template(tmp_path: Path, text: str, name: str = "chat.jinja") -> TemplateCheck:
    path = tmp_path / name
    path.write_text(text)
    return TemplateCheck(load(path))


def test_reasoning_dropped_on_an_earlier_turn_is_reported(tmp_path: Path) -> None:
    check = template(tmp_path, DROPS_EARLIER_REASONING)
    check.check(1, TWO_TURNS, [])
    check.check(2, TWO_TURNS[2:], [])
    assert check.summary() == [
        "chat template: 1 of 2 rows cannot be rendered or lose content (rows 1)",
        "  row 1: reasoning dropped on turn 2",
    ]


def test_a_template_that_keeps_everything_reports_nothing(tmp_path: Path) -> None:
    check = template(tmp_path, KEEPS_EVERYTHING)
    check.check(1, TWO_TURNS, [])
    assert check.summary() == []


def test_missing_text_tool_calls_and_render_errors_are_reported(tmp_path: Path) -> None:
    check = template(tmp_path, NO_TOOLS)
    calls = [message("user", "forecast?"), message("assistant", "", calls=["weather"])]
    check.check(1, calls, [])
    check.check(2, [message("tool", "24")], [])
    tagged = [message("user", "q"), {"role": "assistant", "content": "<think>hidden why</think>shown answer"}]
    check.check(3, tagged, [])
    assert check.problems == [
        (1, "tool call weather missing on turn 2"),
        (2, "cannot render: TemplateError: no tool role"),
    ]
    lossy = template(tmp_path, "{% for m in messages %}{{ m.role }}{% endfor %}")
    lossy.check(1, tagged, [])
    assert lossy.problems == [
        (1, "user text dropped on turn 1; reasoning dropped on turn 2; assistant text dropped on turn 2")
    ]


def test_the_summary_names_the_first_five_rows(tmp_path: Path) -> None:
    check = template(tmp_path, "{{ messages[0].missing.deeper }}")
    for row in range(1, 8):
        check.check(row, TWO_TURNS, [])
    summary = check.summary()
    assert summary[0] == "chat template: 7 of 7 rows cannot be rendered or lose content (rows 1, 2, 3, 4, 5, …)"
    assert len(summary) == 6
    assert summary[1].startswith("  row 1: cannot render: UndefinedError:")


def test_the_sandbox_refuses_unsafe_templates(tmp_path: Path) -> None:
    check = template(tmp_path, "{{ messages.__class__.__mro__ }}{{ messages.append(1) }}")
    check.check(1, TWO_TURNS, [])
    assert check.problems[0][1].startswith("cannot render: SecurityError:")


@pytest.mark.parametrize(
    ("config", "shape"),
    [
        ({"chat_template": KEEPS_EVERYTHING}, "a string"),
        (
            {
                "chat_template": [
                    {"name": "tool_use", "template": "x"},
                    {"name": "default", "template": KEEPS_EVERYTHING},
                ]
            },
            "named",
        ),
    ],
)
def test_a_tokenizer_config_holds_the_template(tmp_path: Path, config: dict[str, Any], shape: str) -> None:
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(config))
    check = TemplateCheck(load(path))
    check.check(1, TWO_TURNS, [{"type": "function", "function": {"name": "f"}}])
    assert check.problems == [], shape


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("tokenizer_config.json", "{", "is not JSON"),
        ("tokenizer_config.json", '{"eos_token": "x"}', "has no chat_template string"),
        ("tokenizer_config.json", "[1]", "has no chat_template string"),
        ("chat.jinja", "{% for m in messages %}", "line 1: Unexpected end of template"),
    ],
)
def test_a_bad_template_file_is_one_line(tmp_path: Path, name: str, text: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load(path)
    assert str(caught.value).startswith("--chat-template: ") and message in str(caught.value)


def test_an_unreadable_template_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^--chat-template: cannot read .*missing\.jinja"):
        load(tmp_path / "missing.jinja")


def test_export_reports_rows_whose_reasoning_the_template_drops(workspace: Workspace) -> None:
    path = workspace.root / "no-reasoning.jinja"
    path.write_text("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}")
    out = workspace.root / "checked.jsonl"
    result = workspace.destiler(
        "export", "think", "--format", "trl-messages", "-o", str(out), "--chat-template", str(path)
    )
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == f"exported 4 samples of job think as trl-messages to {out}"
    assert lines[1] == "chat template: 4 of 4 rows cannot be rendered or lose content (rows 1, 2, 3, 4)"
    assert lines[2] == "  row 1: reasoning dropped on turn 2"
    assert len(out.read_text().splitlines()) == 4


def test_export_with_a_template_that_renders_everything_says_nothing_more(workspace: Workspace) -> None:
    path = workspace.root / "keeps.jinja"
    path.write_text(KEEPS_EVERYTHING)
    out = workspace.root / "kept.jsonl"
    result = workspace.destiler("export", "think", "--format", "sharegpt", "-o", str(out), "--chat-template", str(path))
    assert result.exit_code == 0, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_dpo_pairs_are_checked_as_prompt_and_chosen_answer(workspace: Workspace) -> None:
    path = workspace.root / "drops-user.jinja"
    path.write_text("{% for m in messages %}{% if m.role != 'user' %}{{ m.content }}{% endif %}{% endfor %}")
    out = workspace.root / "pairs-checked.jsonl"
    result = workspace.destiler("export", "pairs", "--format", "dpo", "-o", str(out), "--chat-template", str(path))
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    pairs = len(out.read_text().splitlines())
    assert pairs > 0
    assert lines[0] == f"exported {pairs} pairs of job pairs as dpo to {out}"
    assert lines[1].startswith(f"chat template: {pairs} of {pairs} rows cannot be rendered or lose content")
