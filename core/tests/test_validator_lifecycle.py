"""Validators' optional lifecycle (`open` once before work, `aclose` at the end) and the cost of their calls.

A validator that asks a provider (a judge) hands its answers back in `Verdict.calls`; their
usage and cost are added to the attempt's, so the job's totals count them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import pytest

from destilation import (
    Candidate,
    Generation,
    GenerationRequest,
    Issue,
    JobState,
    Message,
    TaskState,
    Usage,
    ValidationContext,
    ValidatorRegistrar,
    Verdict,
    hookimpl,
)
from destilation.app import App
from destilation.config import JobSpec, Settings, structure
from destilation.errors import ConfigError, JobError, PluginError
from destilation.plugins import make_plugin_manager
from destilation.testing import MemoryStore, TestingKit, job_table, qa_answer


@attrs.define(eq=False)
class Judging:
    """A validator asking the `judge` provider about every candidate; it refuses the first of each task."""

    name = "judging"
    log: list[str]
    fail_open: BaseException | None = None
    seen: list[str] = attrs.field(factory=list)
    refused: set[int] = attrs.field(factory=set)

    async def open(self, context: ValidationContext) -> None:
        assert context.providers is not None
        self.log.append(f"open {','.join(context.providers.names())}")
        if self.fail_open is not None:
            raise self.fail_open

    async def aclose(self) -> None:
        self.log.append("aclose")

    async def check(self, candidate: Candidate, context: ValidationContext) -> Verdict:
        assert context.providers is not None
        request = GenerationRequest(messages=(Message("user", candidate.generation.text),))
        answer = await context.providers.generate("judge", request)
        self.seen.append(answer.text)
        if candidate.task.index not in self.refused:
            self.refused.add(candidate.task.index)
            return Verdict(issues=(Issue("judged_low", answer.text),), calls=(answer,))
        return Verdict(scores={"judge": 9.0}, calls=(answer,))


@attrs.define(eq=False)
class JudgingPlugin:
    validator: Judging

    @hookimpl
    def register_validators(self, register: ValidatorRegistrar) -> None:
        register("judging", lambda config, context: self.validator)

    @hookimpl
    def estimate_cost(self, provider: str, model: str, usage: Usage) -> float | None:
        return 0.25 if provider == "judge" else None


def teacher(request: Any) -> Generation:
    return Generation(json.dumps(qa_answer(request)), "teacher", "t-1", usage=Usage(10, 20), cost=1.0)


def judge_table(**keys: Any) -> dict[str, Any]:
    table = job_table(count=2, max_attempts=3, validators={"judging": True}, **keys)
    table["providers"]["judge"] = {"kind": "scripted", "route": False}
    return table


def app_with(kit: TestingKit, tmp_path: Path, validator: Judging) -> App:
    pm = make_plugin_manager(load=False, extra=[kit, JudgingPlugin(validator)])
    return App(pm, Settings(data_dir=str(tmp_path)), "memory://", str(tmp_path))


async def run(app: App, table: dict[str, Any]) -> Any:
    spec = structure(table, JobSpec, source="job.toml")
    return await app.run(spec, table, "job.toml", resume=False, handle_signals=False)


def judge_says(request: Any) -> Generation:
    return Generation("too short", "judge", "j-1", usage=Usage(5, 3))


@pytest.mark.anyio
async def test_open_runs_once_before_work_aclose_at_the_end_and_judge_calls_count_in_the_cost(tmp_path: Path) -> None:
    log: list[str] = []
    validator = Judging(log)
    kit = TestingKit(scripts={"teacher": teacher, "judge": judge_says})
    outcome = await run(app_with(kit, tmp_path, validator), judge_table())
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 2)
    assert log == ["open teacher,judge", "aclose"]
    assert validator.seen == ["too short"] * 4  # two attempts per task, each judged
    assert len(kit.providers["judge"].requests) == 4
    store: MemoryStore = kit.store()
    samples = await store.samples_after("job", 0, 10)
    # The teacher's reported 1.0 plus the judge's estimated 0.25; tokens added up the same way.
    assert {(s.cost, s.usage, s.scores["judge"]) for s in samples} == {(1.25, Usage(15, 23), 9.0)}
    for task in await store.list_tasks("job", TaskState.ACCEPTED):
        detail = await store.get_task("job", task.index)
        assert detail is not None
        assert [(a.ok, a.cost, a.usage) for a in detail.attempts] == [
            (False, 1.25, Usage(15, 23)),
            (True, 1.25, Usage(15, 23)),
        ]
        assert detail.attempts[0].issues[0].message == "too short"


@pytest.mark.anyio
async def test_a_judge_reporting_its_cost_is_not_estimated(tmp_path: Path) -> None:
    def priced(request: Any) -> Generation:
        return Generation("meh", "judge", "j-1", usage=Usage(1, 1), cost=0.5)

    kit = TestingKit(scripts={"teacher": teacher, "judge": priced})
    outcome = await run(app_with(kit, tmp_path, Judging([])), judge_table())
    assert outcome.state is JobState.DONE
    samples = await kit.store().samples_after("job", 0, 10)
    assert {s.cost for s in samples} == {1.5}


@pytest.mark.anyio
async def test_a_validator_refusing_the_job_in_open_stops_it_before_it_is_stored(tmp_path: Path) -> None:
    refusal = ConfigError("job job", "no provider named 'juge'", "$.validators.judging.provider")
    kit = TestingKit(scripts={"teacher": teacher, "judge": judge_says})
    with pytest.raises(ConfigError, match="no provider named 'juge'"):
        await run(app_with(kit, tmp_path, Judging([], fail_open=refusal)), judge_table())
    assert "job" not in kit.store().jobs
    assert kit.providers["teacher"].requests == []


@pytest.mark.anyio
async def test_a_validator_crashing_in_open_is_one_line_naming_it(tmp_path: Path) -> None:
    log: list[str] = []
    kit = TestingKit(scripts={"teacher": teacher, "judge": judge_says})
    with pytest.raises(PluginError, match=r"^validator 'judging' failed to open: RuntimeError: boom$"):
        await run(app_with(kit, tmp_path, Judging(log, fail_open=RuntimeError("boom"))), judge_table())
    assert log == ["open teacher,judge"]  # never opened, so never closed


def check(app: App, table: dict[str, Any]) -> None:
    app.check(structure(table, JobSpec, source="job.toml"), "job.toml")


@attrs.define(eq=False)
class Asking(Judging):
    """Asks its provider while opening, which `destiler check` must not let through."""

    async def open(self, context: ValidationContext) -> None:
        assert context.providers is not None
        await context.providers.generate("judge", GenerationRequest(messages=()))


def test_check_opens_and_closes_the_validators_and_names_the_job_file_in_a_refusal(tmp_path: Path) -> None:
    log: list[str] = []
    kit = TestingKit(scripts={"teacher": teacher, "judge": judge_says})
    check(app_with(kit, tmp_path, Judging(log)), judge_table())
    assert log == ["open teacher,judge", "aclose"]
    assert kit.providers["teacher"].requests == [] and kit.providers["judge"].requests == []
    refusal = ConfigError("job job", "no provider named 'juge'", "$.validators.judging.provider")
    with pytest.raises(ConfigError) as caught:
        check(app_with(kit, tmp_path, Judging([], fail_open=refusal)), judge_table())
    assert str(caught.value) == "job.toml: $.validators.judging.provider: no provider named 'juge'"
    with pytest.raises(ConfigError) as without_path:
        check(app_with(kit, tmp_path, Judging([], fail_open=ConfigError("elsewhere", "wrong"))), judge_table())
    assert str(without_path.value) == "job.toml: wrong"
    with pytest.raises(ConfigError) as same_file:
        check(app_with(kit, tmp_path, Judging([], fail_open=ConfigError("job.toml", "wrong", "$.x"))), judge_table())
    assert str(same_file.value) == "job.toml: $.x: wrong"


def test_check_sends_no_request_even_for_a_validator_that_asks_while_opening(tmp_path: Path) -> None:
    kit = TestingKit(scripts={"teacher": teacher, "judge": judge_says})
    with pytest.raises(JobError, match=r"destiler check sends no request \(a validator asked 'judge' while opening\)"):
        check(app_with(kit, tmp_path, Asking([])), judge_table())
    assert kit.providers["judge"].requests == []
