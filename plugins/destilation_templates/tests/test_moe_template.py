"""The built-in `moe` template: a valid schema, loose where the mode's rules are the stricter check."""

from __future__ import annotations

import jsonschema

from destilation import TaskSeed
from destilation.templates import schema_error
from destilation_templates.builtin import MOE


def test_identity_and_defaults() -> None:
    assert (MOE.id, MOE.version, MOE.mode) == ("moe", "1", "moe")
    assert MOE.default_validators == ("truncation", "json_schema", "rules", "exact_dedup")
    assert MOE.fields() == ["topic", "persona", "difficulty"]
    for axis in MOE.fields():
        assert axis in MOE.description
    assert schema_error(MOE.schema) is None


def test_schema_takes_a_sample_and_refuses_a_wrong_shape() -> None:
    validator = jsonschema.Draft202012Validator(MOE.schema)
    sample = {
        "question": "Why does iron rust?",
        "domain": "chemist",
        "experts": [{"name": "chemist", "answer": "Oxidation."}],
        "answer": "It oxidises.",
    }
    assert validator.is_valid(sample)
    # a label or an empty answer is the mode's rules' business, not the schema's
    assert validator.is_valid({**sample, "domain": "nobody", "answer": ""})
    assert not validator.is_valid({k: v for k, v in sample.items() if k != "experts"})
    assert not validator.is_valid({**sample, "experts": [{"name": "chemist"}]})
    assert not validator.is_valid({**sample, "extra": 1})


def test_the_prompt_is_the_request_each_expert_answers() -> None:
    seed = TaskSeed(1, axes={"topic": "tides", "persona": "a sailor", "difficulty": "easy"})
    (system, user) = MOE.render(seed)
    assert system.role == "system" and user.role == "user"
    assert user.content.startswith("Explain tides to a sailor, at easy level")
