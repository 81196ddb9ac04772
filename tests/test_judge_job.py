"""A job with an LLM judge, on the mock: low scores are retried with the judge's reasons, samples carry its score.

The judge is a `mock_judge` provider with `route = false`, so it never writes samples; it
scores a share of the candidates low (and breaks a share of its replies), and each reply
reports a cost, which the job's cost and each sample's count.
"""

from __future__ import annotations

import functools
from collections import defaultdict
from pathlib import Path
from typing import Any

import anyio
import pytest

from destilation import Generation, GenerationRequest, JobState, ProviderInfo, hookimpl
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.plugins import make_plugin_manager
from destilation_mock.config import MockConfig
from destilation_mock.provider import MockProvider

REASONS = "The answer names no cause of the tides; say that the moon's pull causes them."
JUDGE_COST = 0.001


def job_file(
    directory: Path,
    name: str,
    *,
    count: int = 12,
    judge: str = "judge",
    teacher: str = "mock",
    unparsable_rate: float = 0.1,
    extra: str = "",
) -> Path:
    path = directory / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ntemplate = "simple"\ncount = {count}\nseed = 3\nmax_attempts = 8\n{extra}\n'
        '[axes]\ntopic = ["tides", "volcanoes", "bees"]\n'
        "[validators.judge]\n"
        f'provider = "{judge}"\nthreshold = 7\n'
        "rubric = [\n"
        '  { name = "accuracy", description = "Is every statement correct?", weight = 2 },\n'
        '  { name = "clarity", description = "Is it easy to follow?" },\n'
        "]\n"
        f'[providers.teacher]\nkind = "{teacher}"\n'
        '[providers.judge]\nkind = "mock_judge"\nroute = false\n'
        f'low_rate = 0.4\nunparsable_rate = {unparsable_rate}\ncost = {JUDGE_COST}\nreasons = "{REASONS}"\n',
        encoding="utf-8",
    )
    return path


def test_accepted_samples_carry_the_judge_s_scores_and_its_calls_are_counted_in_the_cost(destiler) -> None:  # type: ignore[no-untyped-def]
    job = job_file(destiler.workdir, "judged")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    samples: list[Any] = destiler.lines("judged")
    assert len(samples) == 12
    for sample in samples:
        meta: Any = sample["meta"]
        scores = meta["scores"]
        assert scores["judge"] >= 7 and {"judge.accuracy", "judge.clarity"} <= set(scores)
        assert scores["judge"] == (2 * scores["judge.accuracy"] + scores["judge.clarity"]) / 3
        assert meta["provider"] == "teacher"  # the judge is off the route
        assert meta["cost"] == JUDGE_COST  # the teacher's 0.0 and its judge's reply
    assert any(s["meta"]["attempts"] > 1 for s in samples)  # some were judged low first
    shown: Any = destiler.json("show", "judged")
    assert (shown["accepted"], shown["rejected"]) == (12, 0)
    judge = next(row for row in shown["providers"] if row["provider"] == "judge")
    # Every attempt was judged once, each reply costing JUDGE_COST.
    assert judge["requests"] == sum(s["meta"]["attempts"] for s in samples)
    assert shown["cost"]["total"] == pytest.approx(judge["requests"] * JUDGE_COST)
    assert shown["cost"]["by_provider"]["judge"] == pytest.approx(judge["requests"] * JUDGE_COST)


def test_forked_workers_judge_their_candidates_too(destiler) -> None:  # type: ignore[no-untyped-def]
    job = job_file(destiler.workdir, "split", count=64, extra="processes = 2")
    result = destiler("run", str(job))
    assert result.returncode == 0, result.stderr
    samples: list[Any] = destiler.lines("split")
    assert len(samples) == 64
    assert all(s["meta"]["scores"]["judge"] >= 7 and s["meta"]["cost"] == JUDGE_COST for s in samples)
    shown: Any = destiler.json("show", "split")
    judge = next(row for row in shown["providers"] if row["provider"] == "judge")
    assert judge["requests"] == sum(s["meta"]["attempts"] for s in samples)
    assert "/w1" in judge["owner"]  # the forked worker judged its own candidates


def test_a_judge_provider_the_job_lacks_is_one_line_from_check_and_run_and_no_job_is_stored(destiler) -> None:  # type: ignore[no-untyped-def]
    job = job_file(destiler.workdir, "misjudged", judge="juge")
    checked = destiler("check", str(job))
    result = destiler("run", str(job))
    assert result.returncode == checked.returncode == 2
    assert checked.stderr == result.stderr
    assert result.stderr.strip().splitlines() == [
        f"error: {job}: $.validators.judge.provider: the judge's provider 'juge' is not a provider of "
        "this job (it has teacher, judge); add [providers.juge] with route = false"
    ]
    job.write_text(job.read_text().replace('provider = "juge"', 'provider = "judge"'))
    fixed = destiler("run", str(job))  # nothing stored clashes with the corrected file
    assert fixed.returncode == 0, fixed.stderr


class RecordingMock(MockProvider):
    """The mock, keeping every request it answers."""

    def __init__(self, config: MockConfig, info: ProviderInfo, requests: list[GenerationRequest]) -> None:
        super().__init__(config, None, info)
        self.requests = requests

    async def generate(self, request: GenerationRequest) -> Generation:
        self.requests.append(request)
        return await super().generate(request)


class Recorder:
    """Registers the `recording` provider kind: the mock, with the requests kept here."""

    def __init__(self) -> None:
        self.requests: list[GenerationRequest] = []

    @hookimpl
    def register_providers(self, register: Any) -> None:
        def make(config: MockConfig, context: Any, info: ProviderInfo) -> RecordingMock:
            return RecordingMock(config, info, self.requests)

        register("recording", make, config=MockConfig)


def test_a_low_score_is_retried_with_the_judge_s_reasons_in_the_next_prompt(tmp_path: Path) -> None:
    recorder = Recorder()
    app = App(
        make_plugin_manager(extra=[recorder]),
        Settings(data_dir=str(tmp_path)),
        f"sqlite:///{tmp_path / 'state.db'}",
        str(tmp_path),
    )
    job = job_file(tmp_path, "retried", teacher="recording", unparsable_rate=0.0)
    loaded = load_job(job)
    run = functools.partial(app.run, loaded.spec, loaded.raw, str(job), resume=False, handle_signals=False)
    outcome = anyio.run(run)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 12)
    by_task: dict[int | None, list[GenerationRequest]] = defaultdict(list)
    for request in recorder.requests:
        by_task[request.seed].append(request)
    retried = [sorted(requests, key=lambda r: r.attempt) for requests in by_task.values() if len(requests) > 1]
    assert len(retried) >= 2
    for requests in retried:
        assert "Your previous answer was rejected" not in requests[0].messages[-1].content
        for later in requests[1:]:
            feedback = later.messages[-1].content
            assert feedback.startswith("Your previous answer was rejected:\n- [judge_low_score] at $: ")
            assert "below the threshold 7" in feedback and REASONS in feedback
            assert "improve the weakest criteria (accuracy 2/10, clarity 2/10)" in feedback
