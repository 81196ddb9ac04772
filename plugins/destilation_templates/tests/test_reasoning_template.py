"""The built-in `reasoning` template: a valid schema that leaves the trace to native reasoning, prompts that render."""

from __future__ import annotations

import json

import jsonschema
import pytest

from destilation import TaskSeed
from destilation_templates.builtin import REASONING


def test_identity_and_defaults() -> None:
    assert (REASONING.id, REASONING.version, REASONING.mode) == ("reasoning", "1", "reasoning")
    assert REASONING.default_validators == ("truncation", "json_schema", "rules", "exact_dedup")
    # no `reasoning` capability: a provider without native reasoning writes the schema field
    assert REASONING.capabilities == ("json_schema",)
    assert REASONING.fields() == ["topic", "difficulty"]
    for axis in REASONING.fields():
        assert axis in REASONING.description


def test_schema_takes_a_trace_but_does_not_require_one() -> None:
    validator_cls = jsonschema.validators.validator_for(REASONING.schema)
    validator_cls.check_schema(REASONING.schema)
    validator = validator_cls(REASONING.schema)
    good = {"question": "What is two plus two?", "reasoning": "Two and two.\nMakes four.", "answer": "Four."}
    assert validator.is_valid(good)
    assert validator.is_valid({k: v for k, v in good.items() if k != "reasoning"})  # native reasoning fills it
    assert not validator.is_valid({k: v for k, v in good.items() if k != "answer"})
    assert not validator.is_valid({**good, "answer": ""})
    assert not validator.is_valid({**good, "reasoning": ["a list"]})
    assert not validator.is_valid({**good, "extra": 1})


@pytest.mark.parametrize("shot", REASONING.few_shot, ids=lambda s: str(s.variables["topic"]))
def test_few_shot_outputs_obey_the_schema_and_show_a_multi_step_trace(shot) -> None:  # type: ignore[no-untyped-def]
    jsonschema.validate(shot.output, REASONING.schema)
    assert set(shot.variables) == set(REASONING.fields())
    assert len(shot.output["reasoning"].splitlines()) >= 3


def test_render_asks_for_steps_one_per_line() -> None:
    messages = REASONING.render(TaskSeed(1, axes={"topic": "speed", "difficulty": "hard"}))
    assert [m.role for m in messages] == ["system", "user", "assistant", "user"]
    assert "one step per line" in messages[0].content
    assert json.dumps(REASONING.schema, separators=(",", ":")) in messages[0].content
    assert messages[-1].content.endswith("Topic: speed\nDifficulty: hard")
