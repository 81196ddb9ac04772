"""The `reasoning` mode's rules: the answer was not cut off, is present, and follows enough reasoning.

They run after the template's validators, so content is usually parsed already; a job that
dropped `json_schema` gets its text parsed here, and text that is not JSON is left to the
engine's final check. Each issue code names the rule, so a rejected task says which one caught it.
"""

from __future__ import annotations

import json
from typing import Any

import attrs

from destilation import Candidate, Issue, ValidationContext, Verdict
from destilation.domain import JSON

_UNPARSED: Any = object()


def steps_of(trace: JSON) -> list[str]:
    """The steps of a trace: the non-blank lines of a text, the non-blank strings of a list."""
    if isinstance(trace, str):
        return [line.strip() for line in trace.splitlines() if line.strip()]
    if isinstance(trace, list):
        return [item.strip() for item in trace if isinstance(item, str) and item.strip()]
    return []


def _content(candidate: Candidate) -> Any:
    if candidate.parsed:
        return candidate.content
    try:
        return json.loads(candidate.generation.text)
    except ValueError:
        return _UNPARSED


def _answer(content: Any, field: str) -> JSON:
    return content.get(field) if isinstance(content, dict) else None


def _blank(value: JSON) -> bool:
    if isinstance(value, str):
        return not value.strip()
    return value is None or value == [] or value == {}


@attrs.define
class NotTruncated:
    """A `length` finish with no answer: the reasoning used up the token budget."""

    answer: str = "answer"
    name = "reasoning_truncated"  # a plain class attribute, as the Validator protocol has it

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        if candidate.generation.finish_reason != "length":
            return Verdict()
        content = _content(candidate)
        if content is not _UNPARSED and not _blank(_answer(content, self.answer)):
            return Verdict()
        issue = Issue(
            "reasoning_truncated",
            "the token limit was reached before the final answer was written",
            f"$.{self.answer}",
            hint="Reason in fewer, shorter steps and leave room for the final answer.",
        )
        return Verdict(issues=(issue,))


@attrs.define
class AnswerPresent:
    """The final answer exists and says something."""

    answer: str = "answer"
    name = "reasoning_answer"  # a plain class attribute, as the Validator protocol has it

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        content = _content(candidate)
        if content is _UNPARSED:
            return Verdict()
        path = f"$.{self.answer}"
        if not isinstance(content, dict) or self.answer not in content:
            issue = Issue(
                "answer_missing", "there is no final answer", path, hint=f"End with the {self.answer!r} field."
            )
            return Verdict(issues=(issue,))
        if _blank(content[self.answer]):
            issue = Issue(
                "answer_empty", "the final answer is empty", path, hint="State the final result after the reasoning."
            )
            return Verdict(issues=(issue,))
        return Verdict()


@attrs.define
class ReasoningSteps:
    """Enough reasoning: at least `min_steps` steps and `min_chars` characters.

    The trace is the content's field; where the model wrote none there, the provider's native
    reasoning (which the mode could not merge because the text was not a JSON object).
    """

    field: str = "reasoning"
    min_steps: int = 2
    min_chars: int = 40
    name = "reasoning_steps"  # a plain class attribute, as the Validator protocol has it

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        content = _content(candidate)
        if content is _UNPARSED:
            return Verdict()
        trace = content.get(self.field) if isinstance(content, dict) else None
        if _blank(trace):
            trace = candidate.generation.reasoning
        path = f"$.{self.field}"
        steps = steps_of(trace)
        if not steps:
            issue = Issue(
                "reasoning_missing",
                "there is no reasoning before the answer",
                path,
                hint=f"Write your reasoning in the {self.field!r} field, one step per line.",
            )
            return Verdict(issues=(issue,))
        issues: list[Issue] = []
        if len(steps) < self.min_steps:
            issues.append(
                Issue(
                    "too_few_steps",
                    f"the reasoning has {len(steps)} step(s); it must have at least {self.min_steps}",
                    path,
                    hint=f"Work through the problem in at least {self.min_steps} steps, one per line.",
                )
            )
        chars = sum(len(step) for step in steps) + len(steps) - 1
        if chars < self.min_chars:
            issues.append(
                Issue(
                    "reasoning_too_short",
                    f"the reasoning is {chars} characters long; it must have at least {self.min_chars}",
                    path,
                    hint="Explain each step: what you do and why.",
                )
            )
        return Verdict(issues=tuple(issues))
