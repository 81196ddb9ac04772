"""Reasoning traces and deliberately broken answers: each kind is what a mode's rules catch, at the set rate."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import jsonschema
import pytest

from destilation import GenerationRequest, Message, ProviderInfo
from destilation_mock.broken import SHORT_TRACE, broken_answer
from destilation_mock.config import MockConfig
from destilation_mock.provider import MockProvider
from destilation_mock.reasoning import has_trace_field, trace, with_trace_field

REASONING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "question": {"type": "string", "minLength": 10},
        "reasoning": {"type": "string"},
        "answer": {"type": "string", "minLength": 1},
    },
    "required": ["question", "answer"],
    "additionalProperties": False,
}
RECIPE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"title": {"type": "string"}, "steps": {"type": "array", "items": {"type": "string"}}},
    "required": ["title", "steps"],
}
GOOD = {"question": "What is two plus three?", "reasoning": "Two.\nPlus three.", "answer": "Five."}


def provider(**config: Any) -> MockProvider:
    return MockProvider(MockConfig(**config), None, ProviderInfo(name="teacher", kind="mock", model=""))


def request(prompt: str, schema: dict[str, Any] | None = REASONING_SCHEMA, reasoning: bool = True) -> GenerationRequest:
    messages = (Message("system", "You solve problems."), Message("user", prompt))
    return GenerationRequest(messages=messages, response_schema=schema, reasoning=reasoning)


def steps(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_a_trace_has_three_to_five_steps_from_the_prompts_words() -> None:
    lengths = set()
    for index in range(60):
        made = trace(random.Random(index), ("tides", "moon"))
        lengths.add(len(steps(made)))
        assert "tides" in made or "moon" in made
    assert lengths == {3, 4, 5}
    assert "request" in trace(random.Random(0), ())


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        (REASONING_SCHEMA, True),
        ({"type": "object", "properties": {"reasoning": {"type": "array"}}}, False),
        ({"type": "object", "properties": {"answer": {"type": "string"}}}, False),
        ({"type": "object", "properties": ["reasoning"]}, False),
        ({"type": "object"}, False),
        (None, False),
    ],
)
def test_trace_field_only_for_a_string_reasoning_property(schema: Any, expected: bool) -> None:
    assert has_trace_field(schema) is expected
    value = {"answer": "x"}
    filled = with_trace_field(value, schema, random.Random(1), ("tides",))
    assert (filled != value) is expected
    if expected:
        assert len(steps(filled["reasoning"])) >= 3 and filled["answer"] == "x"


def test_a_list_answer_gets_no_trace_field() -> None:
    assert with_trace_field(["a"], REASONING_SCHEMA, random.Random(1), ()) == ["a"]


def test_the_three_broken_reasoning_answers() -> None:
    seen: dict[str, tuple[str, str, str | None]] = {}
    for index in range(40):
        text, finish, reasoning = broken_answer(GOOD, request("q"), random.Random(index), "Step one.\nStep two.")
        if finish == "length":
            kind = "cut"
        elif json.loads(text)["answer"].strip() == "":
            kind = "blank"
        else:
            kind = "short"
        seen[kind] = (text, finish, reasoning)
    assert set(seen) == {"blank", "short", "cut"}
    text, _, reasoning = seen["blank"]
    assert json.loads(text) == {**GOOD, "answer": " "} and reasoning == "Step one.\nStep two."
    text, _, reasoning = seen["short"]
    assert json.loads(text)["reasoning"] == SHORT_TRACE and reasoning == SHORT_TRACE
    text, _, reasoning = seen["cut"]
    assert text == "" and reasoning == "Step one."  # half the trace, cut off mid-thought


def test_a_short_trace_leaves_a_value_without_the_field_as_it_was() -> None:
    value = {"question": "q", "answer": "a"}
    for index in range(20):
        text, finish, reasoning = broken_answer(value, request("q"), random.Random(index), None)
        if finish == "stop" and json.loads(text)["answer"] == "a":
            assert json.loads(text) == value and reasoning == SHORT_TRACE
        elif finish == "length":
            assert reasoning == SHORT_TRACE[:4]


def test_any_other_answer_loses_a_required_property() -> None:
    value = {"title": "Soup", "steps": ["Boil water."], "note": "extra"}
    dropped = set()
    for index in range(20):
        text, finish, reasoning = broken_answer(value, request("q", RECIPE_SCHEMA, False), random.Random(index), None)
        broken = json.loads(text)
        assert finish == "stop" and reasoning is None and broken["note"] == "extra"
        dropped |= set(value) - set(broken)
        assert not jsonschema.Draft202012Validator(RECIPE_SCHEMA).is_valid(broken)
    assert dropped == {"title", "steps"}


@pytest.mark.parametrize("schema", [None, {"type": "object"}, {"required": ["gone"]}])
def test_nothing_required_gives_text_that_is_not_json(schema: Any) -> None:
    text, _, _ = broken_answer({"title": "Soup"}, request("q", schema, False), random.Random(3), None)
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


@pytest.mark.anyio
async def test_a_reasoning_request_gets_a_multi_step_trace_in_both_places() -> None:
    answer = await provider().generate(request("Solve a problem about tides."))
    content = json.loads(answer.text)
    jsonschema.validate(content, REASONING_SCHEMA)
    assert answer.reasoning is not None and len(steps(answer.reasoning)) >= 3
    assert len(steps(content["reasoning"])) >= 3


@pytest.mark.anyio
async def test_reasoning_breakage_breaks_about_that_share_and_is_deterministic() -> None:
    mock = provider(reasoning_breakage=0.3, seed=5)
    kinds: Counter[str] = Counter()
    for index in range(400):
        answer = await mock.generate(request(f"Solve problem number {index} about tides."))
        again = await provider(reasoning_breakage=0.3, seed=5).generate(
            request(f"Solve problem number {index} about tides.")
        )
        assert (again.text, again.finish_reason, again.reasoning) == (
            answer.text,
            answer.finish_reason,
            answer.reasoning,
        )
        if answer.finish_reason == "length":
            kinds["cut"] += 1
            assert answer.text == ""
            continue
        content = json.loads(answer.text)
        if not content["answer"].strip():
            kinds["blank"] += 1
        elif answer.reasoning == SHORT_TRACE:
            kinds["short"] += 1
        else:
            kinds["good"] += 1
    assert set(kinds) == {"cut", "blank", "short", "good"}
    assert 0.2 < (400 - kinds["good"]) / 400 < 0.4


@pytest.mark.anyio
async def test_reasoning_breakage_leaves_the_other_answers_as_they_were() -> None:
    for index in range(100):
        prompt = f"Solve problem number {index} about tides."
        plain = await provider(seed=2).generate(request(prompt))
        broken = await provider(seed=2, reasoning_breakage=0.5).generate(request(prompt))
        if (
            broken.reasoning != SHORT_TRACE
            and broken.finish_reason == "stop"
            and json.loads(broken.text)["answer"].strip()
        ):
            assert (broken.text, broken.reasoning) == (plain.text, plain.reasoning)


@pytest.mark.anyio
async def test_garbage_and_cut_answers_are_not_broken_again() -> None:
    garbage = await provider(garbage_rate=1.0, reasoning_breakage=1.0).generate(request("q about tides"))
    with pytest.raises(json.JSONDecodeError):
        json.loads(garbage.text)
    cut = await provider(truncation_rate=1.0, schema_breakage=1.0).generate(request("q about tides", reasoning=False))
    assert cut.finish_reason == "length" and cut.text  # half a JSON text, not an empty one


@pytest.mark.anyio
async def test_each_breakage_breaks_only_its_own_requests() -> None:
    for index in range(30):
        prompt = f"Solve problem number {index} about tides."
        plain = await provider().generate(request(prompt, RECIPE_SCHEMA, reasoning=False))
        kept = await provider(reasoning_breakage=1.0).generate(request(prompt, RECIPE_SCHEMA, reasoning=False))
        assert kept.text == plain.text
        broken = await provider(schema_breakage=1.0).generate(request(prompt, RECIPE_SCHEMA, reasoning=False))
        assert not jsonschema.Draft202012Validator(RECIPE_SCHEMA).is_valid(json.loads(broken.text))
        thinking = await provider().generate(request(prompt))
        assert (await provider(schema_breakage=1.0).generate(request(prompt))).text == thinking.text
