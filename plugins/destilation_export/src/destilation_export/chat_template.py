"""`--chat-template`: render each exported conversation with the student's chat template.

A template that fails on a row, or whose output lacks a turn's text, reasoning or tool call, is
reported: training on such rows silently teaches the student less than the file holds (the stock
Qwen3 template drops the reasoning of every assistant turn before the last user message).
The template is untrusted Jinja, so it runs in an immutable sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import jinja2
import jinja2.ext
from jinja2.sandbox import ImmutableSandboxedEnvironment

from destilation.domain import JSON
from destilation.errors import ConfigError

SHOWN_ROWS = 5
"""Rows named in the summary; the count covers all of them."""
_SNIPPET = 40


class _Generation(jinja2.ext.Extension):
    """``{% generation %}…{% endgeneration %}`` (TRL's assistant-mask markers) renders its body."""

    tags = {"generation"}

    def parse(self, parser: Any) -> Any:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.Scope(body, lineno=lineno)


def _raise(message: str) -> None:
    raise jinja2.TemplateError(message)


def load(path: Path) -> jinja2.Template:
    """The template of a ``tokenizer_config.json`` (its ``chat_template``) or of a bare Jinja file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--chat-template", f"cannot read {path}: {exc}") from None
    if path.suffix == ".json":
        text = _from_tokenizer_config(path, text)
    env = ImmutableSandboxedEnvironment(
        trim_blocks=True, lstrip_blocks=True, extensions=[jinja2.ext.loopcontrols, _Generation]
    )
    env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
    env.globals["raise_exception"] = _raise
    try:
        return env.from_string(text)
    except jinja2.TemplateSyntaxError as exc:
        raise ConfigError("--chat-template", f"{path} line {exc.lineno}: {exc.message}") from None


def _from_tokenizer_config(path: Path, text: str) -> str:
    try:
        config = json.loads(text)
    except ValueError as exc:
        raise ConfigError("--chat-template", f"{path} is not JSON: {exc}") from None
    template = config.get("chat_template") if isinstance(config, dict) else None
    if isinstance(template, list):  # named templates: the default one renders conversations
        named = {t.get("name"): t.get("template") for t in template if isinstance(t, dict)}
        template = named.get("default")
    if not isinstance(template, str):
        raise ConfigError("--chat-template", f"{path} has no chat_template string")
    return template


@attrs.define
class TemplateCheck:
    """Renders rows one by one and remembers which ones failed or lost content, and why."""

    template: jinja2.Template
    rows: int = 0
    problems: list[tuple[int, str]] = attrs.field(factory=list)

    def check(self, row: int, messages: list[JSON], tools: list[JSON]) -> None:
        self.rows += 1
        try:
            text = self.template.render(
                messages=messages, tools=tools or None, add_generation_prompt=False, bos_token="", eos_token=""
            )
        except Exception as exc:  # any failure of the user's template is a finding, not a crash
            self.problems.append((row, f"cannot render: {type(exc).__name__}: {exc}"))
            return
        lost = list(_lost(messages, text))
        if lost:
            self.problems.append((row, "; ".join(lost)))

    def summary(self) -> list[str]:
        """Empty when every row rendered whole; else a count line and the first few rows."""
        if not self.problems:
            return []
        shown = ", ".join(str(row) for row, _ in self.problems[:SHOWN_ROWS])
        lines = [
            f"chat template: {len(self.problems)} of {self.rows} rows cannot be rendered or lose content"
            f" (rows {shown}{', …' if len(self.problems) > SHOWN_ROWS else ''})"
        ]
        lines += [f"  row {row}: {why}" for row, why in self.problems[:SHOWN_ROWS]]
        return lines


def _snippet(text: str) -> str:
    return text.strip()[:_SNIPPET]


def _lost(messages: list[JSON], text: str) -> Iterator[str]:
    for turn, message in enumerate(messages, start=1):
        reasoning = message.get("reasoning_content") or message.get("thinking")
        content = message.get("content") or ""
        if content.startswith("<think>") and "</think>" in content:  # think tags: check both halves
            reasoning, content = content[len("<think>") :].split("</think>", 1)
        if reasoning and _snippet(reasoning) not in text:
            yield f"reasoning dropped on turn {turn}"
        if content.strip() and _snippet(content) not in text:
            yield f"{message['role']} text dropped on turn {turn}"
        for call in message.get("tool_calls") or ():
            if call["function"]["name"] not in text:
                yield f"tool call {call['function']['name']} missing on turn {turn}"
