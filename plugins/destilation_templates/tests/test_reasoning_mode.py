"""The `reasoning` mode: what it asks for, how native reasoning becomes content, its options and registration."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from destilation import ConfigError, Generation, GenerationRequest, ModeContext, ProviderInfo, Task, TaskSeed
from destilation.config import JobSpec, structure
from destilation.modes import Mode
from destilation.plugins import make_plugin_manager
from destilation.registry import collect
from destilation_templates import plugin
from destilation_templates.builtin import REASONING
from destilation_templates.reasoning_mode import (
    ReasoningConfig,
    ReasoningMode,
    make_reasoning_mode,
    takes_field,
    with_native_reasoning,
)
from destilation_templates.reasoning_rules import AnswerPresent, NotTruncated, ReasoningSteps

INFO = ProviderInfo("teacher", "fake", "fake-1")
TRACE = "First I add the two numbers.\nThen I check the sum by subtracting one of them."


def generation(text: str, reasoning: str | None = None, finish: str = "stop") -> Generation:
    return Generation(text, "teacher", "fake-1", finish_reason=finish, reasoning=reasoning)


class Recorder:
    """A `ModeContext.call` that answers with one fixed generation and keeps the requests."""

    def __init__(self, answer: Generation) -> None:
        self.answer = answer
        self.requests: list[tuple[GenerationRequest, str | None]] = []

    async def __call__(self, request: GenerationRequest, provider: str | None) -> tuple[ProviderInfo, Generation]:
        self.requests.append((request, provider))
        return INFO, self.answer


def context(call: Recorder, feedback: tuple[Any, ...] = ()) -> ModeContext:
    seed = TaskSeed(2, axes={"topic": "fractions", "difficulty": "easy"})
    return ModeContext(
        spec=JobSpec(name="think"),
        template=REASONING,
        task=Task("think", seed),
        number=1 + len(feedback),
        feedback=feedback,
        call=call,
        seed=99,
    )


@pytest.mark.anyio
async def test_native_reasoning_is_asked_for_and_written_into_the_trace_field() -> None:
    text = json.dumps({"question": "What is 2 + 3?", "reasoning": "I guess.", "answer": "5"})
    call = Recorder(generation(text, reasoning=f"  {TRACE}\n"))
    production = await ReasoningMode().produce(context(call))
    ((request, provider),) = call.requests
    assert provider is None  # the task's route picks the provider
    assert request.reasoning is True  # even though the template needs no `reasoning` capability
    assert request.response_schema == REASONING.schema
    assert request.seed == 99 and request.attempt == 1
    assert request.messages == production.prompt == REASONING.render(context(call).task.seed)
    # native reasoning wins over the model's own words in the field
    assert json.loads(production.generation.text)["reasoning"] == TRACE
    assert production.generation.reasoning == f"  {TRACE}\n"
    assert production.provider is INFO and production.calls == 1


@pytest.mark.anyio
async def test_native_false_asks_for_none_and_keeps_the_models_field() -> None:
    text = json.dumps({"question": "What is 2 + 3?", "reasoning": TRACE, "answer": "5"})
    call = Recorder(generation(text))
    mode = make_reasoning_mode(ReasoningConfig(native=False), None)  # type: ignore[arg-type]
    production = await mode.produce(context(call))
    assert call.requests[0][0].reasoning is False
    assert production.generation.text == text


@pytest.mark.anyio
async def test_feedback_reaches_the_prompt() -> None:
    from destilation import Issue

    call = Recorder(generation("{}"))
    issue = Issue("too_few_steps", "the reasoning has 1 step(s)", "$.reasoning")
    await ReasoningMode().produce(context(call, feedback=(issue,)))
    assert "[too_few_steps]" in call.requests[0][0].messages[-1].content


def test_a_list_field_gets_the_native_steps_as_a_list() -> None:
    text = json.dumps({"steps": ["one"], "answer": "5"})
    merged = with_native_reasoning(generation(text, reasoning="a\n\n b \n"), "steps")
    assert json.loads(merged.text) == {"steps": ["a", "b"], "answer": "5"}


def test_an_absent_field_is_added() -> None:
    merged = with_native_reasoning(generation('{"answer": "5"}', reasoning=TRACE), "thoughts")
    assert json.loads(merged.text) == {"answer": "5", "thoughts": TRACE}


@pytest.mark.parametrize(
    ("text", "reasoning"),
    [
        ('{"answer": "5"}', None),  # no native reasoning
        ('{"answer": "5"}', " \n "),  # a blank one
        ("Sure! The answer is 5.", TRACE),  # not JSON: the validators say so
        ("[1, 2]", TRACE),  # JSON, not an object
        ('{"answer": "5", "answer": ""}', TRACE),  # a repeated key stays for the validators to see
        ('{"a": {"b": 1, "b": 2}}', TRACE),
    ],
)
def test_nothing_to_merge_leaves_the_generation_as_it_was(text: str, reasoning: str | None) -> None:
    original = generation(text, reasoning=reasoning)
    assert with_native_reasoning(original, "reasoning") is original


@given(
    content=st.dictionaries(st.text(max_size=8), st.one_of(st.text(max_size=20), st.integers(), st.none()), max_size=4),
    native=st.text(min_size=1, max_size=40).filter(str.strip),
    field=st.text(min_size=1, max_size=8),
)
def test_merging_keeps_every_other_field_and_sets_the_trace(content: dict[str, Any], native: str, field: str) -> None:
    merged = json.loads(with_native_reasoning(generation(json.dumps(content), reasoning=native), field).text)
    assert merged[field] == native.strip()
    assert {k: v for k, v in merged.items() if k != field} == {k: v for k, v in content.items() if k != field}


def test_the_modes_rules_follow_its_options() -> None:
    mode = ReasoningMode(ReasoningConfig(min_steps=4, min_chars=100, field="steps", answer="final"))
    assert mode.name == "reasoning"
    assert isinstance(mode, Mode)
    truncated, answer, steps = mode.validators()
    assert truncated == NotTruncated("final")
    assert answer == AnswerPresent("final")
    assert steps == ReasoningSteps("steps", 4, 100)
    assert [v.name for v in mode.validators()] == ["reasoning_truncated", "reasoning_answer", "reasoning_steps"]


def test_defaults() -> None:
    assert make_reasoning_mode(None, None).config == ReasoningConfig()  # type: ignore[arg-type]
    assert attrs.asdict(ReasoningConfig()) == {
        "min_steps": 2,
        "min_chars": 40,
        "field": "reasoning",
        "answer": "answer",
        "native": True,
    }


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ({"min_steps": 0}, "min_steps"),
        ({"min_chars": -1}, "min_chars"),
        ({"field": ""}, "field"),
        ({"answer": ""}, "answer"),
        ({"steps": 3}, "steps"),  # unknown key
    ],
)
def test_bad_mode_options_name_the_key(table: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        structure(table, ReasoningConfig, source="job.toml", path="$.mode")
    assert "job.toml" in str(caught.value)
    assert key in str(caught.value)


def test_registered_with_its_config_class() -> None:
    registry = collect(make_plugin_manager(load=False, extra=[plugin]))
    registration = registry.get("modes", "reasoning")
    assert registration.config is ReasoningConfig
    made = registration.obj(ReasoningConfig(min_steps=5), None)
    assert made == ReasoningMode(ReasoningConfig(min_steps=5))
    for name in ("simple", "custom"):
        assert registry.get("modes", name).obj(None, None).name == name


@pytest.mark.parametrize(
    ("schema", "expected"),
    [
        ({"properties": {"reasoning": {}}, "additionalProperties": False}, True),
        ({"properties": {"answer": {}}, "additionalProperties": False}, False),
        ({"properties": {"answer": {}}}, True),
        ({"additionalProperties": {"type": "string"}}, True),
        ({"properties": ["reasoning"], "additionalProperties": False}, False),
    ],
)
def test_takes_field(schema: dict[str, Any], expected: bool) -> None:
    assert takes_field(schema, "reasoning") is expected


@pytest.mark.anyio
async def test_a_schema_without_room_for_the_field_keeps_the_trace_native() -> None:
    strict = attrs.evolve(REASONING, schema={**REASONING.schema, "properties": {"answer": {"type": "string"}}})
    text = json.dumps({"answer": "5"})
    call = Recorder(generation(text, reasoning=TRACE))
    production = await ReasoningMode().produce(attrs.evolve(context(call), template=strict))
    assert production.generation.text == text  # the schema would refuse an added field
    assert production.generation.reasoning == TRACE
