"""The `reasoning` mode's rules, one by one, on parsed and unparsed candidates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import Candidate, Generation, Task, TaskSeed, Verdict
from destilation_templates.builtin import REASONING
from destilation_templates.reasoning_rules import AnswerPresent, NotTruncated, ReasoningSteps, steps_of

TASK = Task("think", TaskSeed(0))
TRACE = "First I add the two numbers.\nThen I check the sum by subtracting one of them."
UNSET: Any = object()


def candidate(
    content: Any = UNSET, text: str | None = None, finish: str = "stop", reasoning: str | None = None
) -> Candidate:
    """A candidate whose text is `content` as JSON unless given; parsed only when `content` is."""
    body = text if text is not None else json.dumps(content)
    made = Candidate(TASK, Generation(body, "teacher", "m", finish_reason=finish, reasoning=reasoning))
    return made if content is UNSET else Candidate(TASK, made.generation, content)


async def codes(rule: Any, cand: Candidate) -> list[str]:
    verdict: Verdict = await rule.check(cand, None)
    assert not verdict.has_content  # the rules only judge
    return [issue.code for issue in verdict.issues]


def test_steps_of_text_and_lists() -> None:
    assert steps_of(" a \n\n b\n  \n") == ["a", "b"]
    assert steps_of(["a", " ", 3, None, " b "]) == ["a", "b"]
    assert steps_of(None) == [] and steps_of(7) == [] and steps_of({"a": "b"}) == []


@given(st.lists(st.text(alphabet="abc \t", max_size=6), max_size=6))
def test_steps_are_the_non_blank_lines(lines: list[str]) -> None:
    assert steps_of("\n".join(lines)) == [line.strip() for line in lines if line.strip()]


# --- reasoning_truncated -----------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cand", "expected"),
    [
        (candidate({"answer": "5"}, finish="length"), []),  # cut, but the answer is there
        (candidate({"answer": ""}, finish="length"), ["reasoning_truncated"]),
        (candidate({"question": "q?"}, finish="length"), ["reasoning_truncated"]),
        (candidate(text="", finish="length", reasoning="I start by"), ["reasoning_truncated"]),  # unparsed
        (candidate(text='{"answer": ""}', finish="length"), ["reasoning_truncated"]),  # parsed here
        (candidate(text='{"answer": "5"}', finish="length"), []),
        (candidate({"answer": ""}), []),  # not cut off: the answer rule's case
    ],
)
async def test_truncated(cand: Candidate, expected: list[str]) -> None:
    assert await codes(NotTruncated(), cand) == expected


@pytest.mark.anyio
async def test_truncated_names_the_answer_field_and_says_what_to_do() -> None:
    verdict = await NotTruncated("final").check(candidate({"final": None}, finish="length"), None)  # type: ignore[arg-type]
    (issue,) = verdict.issues
    assert issue.path == "$.final"
    assert "token limit" in issue.message and issue.hint and "fewer" in issue.hint


# --- reasoning_answer --------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("cand", "expected"),
    [
        (candidate({"answer": "5"}), []),
        (candidate({"answer": 5}), []),  # a number is an answer
        (candidate({"answer": False}), []),
        (candidate({"answer": " \n"}), ["answer_empty"]),
        (candidate({"answer": None}), ["answer_empty"]),
        (candidate({"answer": []}), ["answer_empty"]),
        (candidate({"answer": {}}), ["answer_empty"]),
        (candidate({"question": "q?"}), ["answer_missing"]),
        (candidate(["answer"]), ["answer_missing"]),
        (candidate(text='{"answer": " "}'), ["answer_empty"]),  # unparsed: parsed here
        (candidate(text="not json"), []),  # left to the final JSON check
    ],
)
async def test_answer(cand: Candidate, expected: list[str]) -> None:
    assert await codes(AnswerPresent(), cand) == expected


# --- reasoning_steps ---------------------------------------------------------------------------


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("rule", "cand", "expected"),
    [
        (ReasoningSteps(), candidate({"reasoning": TRACE}), []),
        (ReasoningSteps(), candidate({"reasoning": TRACE.split("\n")}), []),
        (ReasoningSteps(min_steps=3), candidate({"reasoning": TRACE}), ["too_few_steps"]),
        (ReasoningSteps(min_chars=500), candidate({"reasoning": TRACE}), ["reasoning_too_short"]),
        (ReasoningSteps(), candidate({"reasoning": "Obvious."}), ["too_few_steps", "reasoning_too_short"]),
        (ReasoningSteps(), candidate({"answer": "5"}), ["reasoning_missing"]),
        (ReasoningSteps(), candidate({"reasoning": "  "}), ["reasoning_missing"]),
        (ReasoningSteps(), candidate("5"), ["reasoning_missing"]),
        # no trace in the field: the provider's native one counts
        (ReasoningSteps(), candidate({"answer": "5"}, reasoning=TRACE), []),
        (ReasoningSteps(), candidate({"answer": "5"}, reasoning="Hm."), ["too_few_steps", "reasoning_too_short"]),
        (
            ReasoningSteps(field="steps"),
            candidate({"steps": ["one", "two"], "reasoning": TRACE}),
            ["reasoning_too_short"],
        ),
        (ReasoningSteps(), candidate(text=json.dumps({"reasoning": TRACE})), []),
        (ReasoningSteps(), candidate(text="not json", reasoning=TRACE), []),
    ],
)
async def test_steps(rule: ReasoningSteps, cand: Candidate, expected: list[str]) -> None:
    assert await codes(rule, cand) == expected


@pytest.mark.anyio
async def test_character_count_includes_the_line_breaks_between_steps() -> None:
    # "abcd" + newline + "efgh" is 9 characters of reasoning
    assert await codes(ReasoningSteps(min_steps=2, min_chars=9), candidate({"reasoning": "abcd\n\nefgh"})) == []
    assert await codes(ReasoningSteps(min_steps=2, min_chars=10), candidate({"reasoning": "abcd\n\nefgh"})) == [
        "reasoning_too_short"
    ]


@pytest.mark.anyio
async def test_issues_name_the_field_and_the_numbers() -> None:
    verdict = await ReasoningSteps("thoughts", 3, 100).check(candidate({"thoughts": "a step"}), None)  # type: ignore[arg-type]
    few, short = verdict.issues
    assert few.path == short.path == "$.thoughts"
    assert "1 step(s)" in few.message and "at least 3" in few.message
    assert "6 characters" in short.message and "at least 100" in short.message


@pytest.mark.anyio
@pytest.mark.parametrize("shot", REASONING.few_shot, ids=lambda s: str(s.variables["topic"]))
async def test_the_builtin_examples_pass_the_rules_they_teach(shot) -> None:  # type: ignore[no-untyped-def]
    cand = candidate(shot.output)
    for rule in (NotTruncated(), AnswerPresent(), ReasoningSteps(min_steps=3, min_chars=80)):
        assert await codes(rule, cand) == []
