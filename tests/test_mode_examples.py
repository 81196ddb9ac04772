"""The `reasoning` and `custom` examples as a user runs them: exactly their count, every line valid.

With the mock breaking answers on purpose, no broken sample reaches the dataset, every rejected
task names the rule that caught it, and the job still delivers exactly its count.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema

from destilation.templates import load_template_file
from destilation_templates.builtin import REASONING

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
RECIPE = load_template_file(str(EXAMPLES / "custom" / "recipe.toml"))
REASONING_JOB = tomllib.loads((EXAMPLES / "reasoning.toml").read_text(encoding="utf-8"))
CUSTOM_JOB = tomllib.loads((EXAMPLES / "custom.toml").read_text(encoding="utf-8"))

REASONING_CODES = {"answer_empty", "too_few_steps", "reasoning_too_short", "reasoning_truncated"}
"""What the reasoning mode's own rules report."""


def content_of(line: dict[str, Any], *extra: str) -> dict[str, Any]:
    """The sample's content: the line without lineage and the columns every line carries."""
    return {k: v for k, v in line.items() if k not in ("meta", "tool_calls", *extra)}


def assert_reasoning_line(line: dict[str, Any]) -> None:
    content = content_of(line)
    jsonschema.validate(content, REASONING.schema)
    mode = REASONING_JOB["mode"]
    steps = [step for step in content["reasoning"].splitlines() if step.strip()]
    assert len(steps) >= mode["min_steps"], content
    assert len(content["reasoning"].strip()) >= mode["min_chars"], content
    assert content["answer"].strip(), content


def assert_recipe_line(line: dict[str, Any]) -> None:
    assert line["reasoning"] == ""  # every line has the column; a custom template has no trace
    content = content_of(line, "reasoning")
    jsonschema.validate(content, RECIPE.schema)
    rules = CUSTOM_JOB["validators"]["rules"]
    for field, low in rules["min_length"].items():
        assert len(content[field].strip()) >= low, (field, content)
    for field, high in rules["max_length"].items():
        assert len(content[field].strip()) <= high, (field, content)
    text = " ".join(str(v) for v in content.values()).lower()
    assert not any(phrase in text for phrase in rules["forbidden"])


def broken_copy(tmp_path: Path, example: str, name: str, rate: float) -> Path:
    """The example with the mock's breakage on and two attempts per task, so some tasks are rejected."""
    text = (EXAMPLES / example).read_text(encoding="utf-8")
    text = re.sub(r"(?m)^name = .*$", f'name = "{name}"', text)
    text = re.sub(r"(?m)^max_attempts = .*$", "max_attempts = 2", text)
    text = re.sub(r"(?m)^(\w+_breakage) = .*$", rf"\1 = {rate}", text)
    text = text.replace('"custom/recipe.toml"', f'"{(EXAMPLES / "custom" / "recipe.toml").as_posix()}"')
    path = tmp_path / example
    path.write_text(text, encoding="utf-8")
    return path


def rejected_codes(destiler, job: str) -> list[set[str]]:  # type: ignore[no-untyped-def]
    rejected = destiler.json("tasks", job, "--state", "rejected", "--limit", "1000")
    return [{reason["code"] for reason in task["reasons"]} for task in rejected]


def test_reasoning_example_delivers_its_count_with_a_trace_on_every_line(destiler) -> None:  # type: ignore[no-untyped-def]
    result = destiler("run", str(EXAMPLES / "reasoning.toml"))
    assert result.returncode == 0, result.stderr
    count = REASONING_JOB["count"]
    assert f"{count}/{count} samples accepted" in result.stdout
    lines = destiler.lines("reasoning")
    assert len(lines) == count
    for line in lines:
        assert_reasoning_line(line)
        assert line["meta"]["usage"]["reasoning_tokens"] > 0  # the trace is the provider's native one


def test_without_native_reasoning_the_model_writes_the_trace_field(destiler, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = (EXAMPLES / "reasoning.toml").read_text(encoding="utf-8")
    text = text.replace('name = "reasoning"', 'name = "reasoning-field"').replace("# native = true", "native = false")
    job = tmp_path / "field.toml"
    job.write_text(text.replace("count = 60", "count = 20"), encoding="utf-8")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    lines = destiler.lines("reasoning-field")
    assert len(lines) == 20
    for line in lines:
        assert_reasoning_line(line)
        assert line["meta"]["usage"]["reasoning_tokens"] == 0  # nothing native was asked for or given


def test_custom_example_delivers_its_count_in_the_users_schema(destiler) -> None:  # type: ignore[no-untyped-def]
    result = destiler("run", str(EXAMPLES / "custom.toml"))
    assert result.returncode == 0, result.stderr
    count = CUSTOM_JOB["count"]
    assert f"{count}/{count} samples accepted" in result.stdout
    lines = destiler.lines("recipes")
    assert len(lines) == count
    for line in lines:
        assert_recipe_line(line)
        assert line["meta"]["template"] == "recipe"


def test_broken_reasoning_answers_never_land_and_rejections_name_the_rule(destiler, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = broken_copy(tmp_path, "reasoning.toml", "reasoning-broken", 0.5)
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    count = REASONING_JOB["count"]
    lines = destiler.lines("reasoning-broken")
    assert len(lines) == count
    for line in lines:
        assert_reasoning_line(line)
    rejected = rejected_codes(destiler, "reasoning-broken")
    assert rejected, "at this rate and two attempts some tasks must be rejected"
    assert all(codes for codes in rejected)  # every rejected task says which rule caught it
    seen = set().union(*rejected)
    # a blank answer and a thin trace are the mode's to catch; a trace cut off at the token
    # limit is caught first by `truncation`, which runs before the mode's rules
    assert {"answer_empty", "too_few_steps"} <= seen
    assert seen <= REASONING_CODES | {"truncated", "empty"}, seen


def test_broken_custom_answers_never_land_and_rejections_name_the_rule(destiler, tmp_path) -> None:  # type: ignore[no-untyped-def]
    job = broken_copy(tmp_path, "custom.toml", "recipes-broken", 0.5)
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    count = CUSTOM_JOB["count"]
    lines = destiler.lines("recipes-broken")
    assert len(lines) == count
    for line in lines:
        assert_recipe_line(line)
    rejected = rejected_codes(destiler, "recipes-broken")
    assert rejected, "at this rate and two attempts some tasks must be rejected"
    assert all(codes == {"schema"} for codes in rejected), rejected  # a required field left out
