"""examples/moe.toml as a user runs it: exactly its count, every line valid, and the mock's breakage kept out."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import jsonschema

from destilation import Candidate, Generation, Task, TaskSeed, ValidationContext
from destilation.testing import MemoryStore
from destilation_templates.builtin import MOE
from destilation_templates.moe_rules import MoeRules

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "moe.toml"
RULES = MoeRules(("physicist", "chemist"))
MOE_CODES = {"moe_unknown_expert", "moe_duplicate_expert", "moe_missing_expert", "moe_no_answer"}


def content_of(line: dict[str, Any]) -> dict[str, Any]:
    """A dataset line without what the sink adds around the content."""
    return {k: v for k, v in line.items() if k not in ("meta", "reasoning", "tool_calls")}


def assert_valid(lines: list[dict[str, Any]]) -> None:
    validator = jsonschema.Draft202012Validator(MOE.schema)
    context = ValidationContext("moe", MOE, MemoryStore("memory://"), lambda content: "")
    for line in lines:
        content = content_of(line)
        validator.validate(content)
        candidate = Candidate(Task("moe", TaskSeed(0)), Generation(json.dumps(content), "p", "m"), content)
        verdict = anyio.run(RULES.check, candidate, context)
        assert verdict.issues == (), (content, verdict.issues)
        assert [e["name"] for e in content["experts"]] == ["physicist", "chemist"]


def test_the_example_delivers_its_count_with_every_expert_answering(destiler) -> None:
    result = destiler("run", str(EXAMPLE))
    assert result.returncode == 0, result.stderr
    assert "40/40 samples accepted" in result.stdout
    lines = destiler.lines("moe")
    assert len(lines) == 40
    assert_valid(lines)
    assert len({line["meta"]["content_hash"] for line in lines}) == 40
    # the physicist answered through its own provider, which stays off the route
    shown = destiler.json("show", "moe")
    requests = {p["provider"]: p["requests"] for p in shown["providers"]}
    assert requests["physics"] >= 40
    assert {line["meta"]["provider"] for line in lines} == {"teacher"}
    usage = lines[0]["meta"]["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0


def test_with_the_mocks_breakage_on_no_broken_sample_lands(destiler, tmp_path: Path) -> None:
    text = EXAMPLE.read_text(encoding="utf-8").replace("moe_breakage = 0.0", "moe_breakage = 0.3")
    job = tmp_path / "broken.toml"
    job.write_text(text.replace("max_attempts = 6", "max_attempts = 2"), encoding="utf-8")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    assert "40/40 samples accepted" in result.stdout
    lines = destiler.lines("moe")
    assert len(lines) == 40
    assert_valid(lines)
    assert any(line["meta"]["attempts"] > 1 for line in lines)  # some were mended by a retry

    rejected = destiler.json("tasks", "moe", "--state", "rejected", "--limit", "1000")
    assert rejected, "with two attempts at this rate some tasks should run out of them"
    codes = {reason["code"] for task in rejected for reason in task["reasons"]}
    assert codes <= MOE_CODES
    assert {"moe_unknown_expert", "moe_missing_expert", "moe_no_answer"} <= codes


def test_an_expert_on_a_provider_the_job_lacks_is_one_line_exit_2(destiler, tmp_path: Path) -> None:
    job = tmp_path / "typo.toml"
    job.write_text(EXAMPLE.read_text(encoding="utf-8").replace('provider = "physics"', 'provider = "physix"'))
    for command in ("check", "run"):
        result = destiler(command, str(job))
        assert result.returncode == 2
        assert result.stderr.strip().splitlines() == [
            f"error: {job}: $.mode.experts[0].provider: no provider named 'physix' (the job has teacher, physics)"
        ]
