"""The built-in `simple` template: its prompts render and its examples obey its own schema."""

from __future__ import annotations

import json

import jsonschema
import pytest

from destilation import Issue, TaskSeed
from destilation_templates.builtin import BUILTIN, SIMPLE


def test_identity_and_defaults() -> None:
    assert (SIMPLE.id, SIMPLE.version, SIMPLE.mode) == ("simple", "1", "simple")
    assert SIMPLE.default_validators == ("truncation", "json_schema", "rules", "exact_dedup")
    assert SIMPLE.capabilities == ("json_schema",)
    assert SIMPLE.fields() == ["topic", "difficulty", "persona"]
    for axis in SIMPLE.fields():
        assert axis in SIMPLE.description


def test_schema_is_valid_and_strict() -> None:
    validator_cls = jsonschema.validators.validator_for(SIMPLE.schema)
    validator_cls.check_schema(SIMPLE.schema)
    validator = validator_cls(SIMPLE.schema)
    assert validator.is_valid({"question": "What is two plus two?", "answer": "Four."})
    assert not validator.is_valid({"question": "Too short", "answer": "x"})
    assert not validator.is_valid({"question": "What is two plus two?", "answer": ""})
    assert not validator.is_valid({"question": "What is two plus two?"})
    assert not validator.is_valid({"question": "What is two plus two?", "answer": "Four.", "extra": 1})
    assert not validator.is_valid({"question": "What is two plus two?", "answer": 4})


@pytest.mark.parametrize("shot", SIMPLE.few_shot, ids=lambda s: str(s.variables["topic"]))
def test_few_shot_outputs_obey_the_schema(shot) -> None:  # type: ignore[no-untyped-def]
    jsonschema.validate(shot.output, SIMPLE.schema)
    # every example fills every axis, so no placeholder leaks into the demonstrations
    assert set(shot.variables) == set(SIMPLE.fields())


def test_two_few_shot_examples() -> None:
    assert len(SIMPLE.few_shot) == 2


def test_render_without_feedback() -> None:
    seed = TaskSeed(7, axes={"topic": "plate tectonics", "difficulty": "hard", "persona": "a geology student"})
    messages = SIMPLE.render(seed)
    roles = [m.role for m in messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    system = messages[0].content
    assert system.startswith(SIMPLE.system_prompt)
    assert json.dumps(SIMPLE.schema, separators=(",", ":")) in system
    # the few-shot answers are the examples' outputs as JSON
    assert json.loads(messages[2].content) == SIMPLE.few_shot[0].output
    assert json.loads(messages[4].content) == SIMPLE.few_shot[1].output
    assert "Topic: photosynthesis" in messages[1].content
    last = messages[-1].content
    assert last == (
        "Write one question and its answer.\nTopic: plate tectonics\nDifficulty: hard\n"
        "The question is asked by: a geology student"
    )


def test_render_with_feedback_appends_the_issues() -> None:
    seed = TaskSeed(0, axes={"topic": "fractions", "difficulty": "easy", "persona": "a parent"})
    issue = Issue("too_short", "is 3 characters long", "$.answer", hint="Explain the steps.")
    messages = SIMPLE.render(seed, feedback=[issue])
    assert len(messages) == 7
    assert messages[-2].content.startswith("Write one question and its answer.\nTopic: fractions")
    feedback = messages[-1]
    assert feedback.role == "user"
    assert "[too_short] at $.answer: is 3 characters long (hint: Explain the steps.)" in feedback.content


def test_render_with_absent_axes_keeps_a_placeholder_the_system_prompt_explains() -> None:
    messages = SIMPLE.render(TaskSeed(3, axes={"topic": "sorting algorithms"}))
    last = messages[-1].content
    assert "Topic: sorting algorithms" in last
    assert "Difficulty: {difficulty}" in last
    assert "{persona}" in last
    # the system prompt tells the model what a leftover placeholder means
    assert "placeholder in braces" in messages[0].content
    assert "{persona}" in messages[0].content


def test_builtin_lists_simple_once() -> None:
    ids = [t.id for t in BUILTIN]
    assert ids.count("simple") == 1 and len(set(ids)) == len(ids)
