"""Engine paths that a clean run does not take, driven in-process with real plugins and a real store."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import attrs
import pytest

from destilation import (
    Generation,
    GenerationRequest,
    JobState,
    Provider,
    ProviderError,
    ProviderInfo,
    StateStore,
    Usage,
    hookimpl,
)
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.domain import Event
from destilation.engine.runner import RunOutcome
from destilation.errors import ConfigError, JobError
from destilation.plugins import make_plugin_manager


def make_app(tmp_path: Path, *plugins: object) -> App:
    pm = make_plugin_manager(extra=plugins)
    return App(pm, Settings(data_dir=str(tmp_path)), f"sqlite:///{tmp_path / 'state.db'}", str(tmp_path))


def run(app: App, job: Path, *, resume: bool = False) -> RunOutcome:
    loaded = load_job(job)
    call = functools.partial(app.run, loaded.spec, loaded.raw, str(job), resume=resume, handle_signals=False)
    return anyio.run(call)


def in_store(app: App, work: Callable[[StateStore], Awaitable[object]]) -> None:
    """Do one thing to the app's store, as another `destiler` command would."""

    async def main() -> None:
        async with AsyncExitStack() as stack:
            await work(await app.open_store(stack))

    anyio.run(main)


def job_file(tmp_path: Path, body: str, name: str = "job") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(f'name = "{name}"\n{body}', encoding="utf-8")
    return path


def lines(tmp_path: Path, job: str = "job") -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / job / "data.jsonl").read_text().splitlines()]


class ConstantFingerprint:
    """Every sample looks the same to dedup, so only the first can be accepted."""

    @hookimpl
    def fingerprint(self, sample_content: Any) -> str:
        return "same"


def test_duplicates_found_at_commit_are_retried_with_feedback_then_rejected(tmp_path: Path) -> None:
    job = job_file(
        tmp_path,
        "count = 3\nmax_attempts = 2\nmax_tasks = 4\n[validators]\nexact_dedup = false\n"
        '[providers.teacher]\nkind = "mock"\nconcurrency = 1\n',
    )
    outcome = run(make_app(tmp_path, ConstantFingerprint()), job)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.FAILED, 1, 3)
    assert "task limit (4) is reached" in outcome.message
    assert len(lines(tmp_path)) == 1


class AbortOnError:
    @hookimpl
    def classify_error(self, error: BaseException, provider: str) -> str:
        return "abort"


def test_an_abort_decision_stops_the_job_as_failed(tmp_path: Path) -> None:
    job = job_file(tmp_path, 'count = 5\n[providers.teacher]\nkind = "mock"\nfailure_rate = 1.0\n')
    outcome = run(make_app(tmp_path, AbortOnError()), job)
    assert outcome.state is JobState.FAILED
    assert outcome.message.startswith("provider 'teacher' stopped the job: mock provider failed")


def test_planning_stays_a_few_claims_ahead_of_the_work_however_large_the_job(tmp_path: Path) -> None:
    job = job_file(
        tmp_path,
        'count = 100000\nprocesses = 1\n[providers.teacher]\nkind = "mock"\nconcurrency = 4\nfailure_rate = 1.0\n',
    )
    outcome = run(make_app(tmp_path, AbortOnError()), job)  # fails at the first answer
    assert outcome.state is JobState.FAILED
    with sqlite3.connect(tmp_path / "state.db") as db:
        (planned,) = db.execute("SELECT count(*) FROM tasks").fetchone()
    # 4 requests in flight, 6 slots, claims of up to 12: a page or two planned, not 100 000.
    assert 0 < planned <= 24


@attrs.define
class ScriptedProvider(Provider):
    """Fails with a Retry-After once per request seed, then answers plain JSON with no cost reported."""

    name: str
    seen: set[int] = attrs.field(factory=set)

    def info(self) -> ProviderInfo:
        return ProviderInfo(self.name, "scripted", "script-1", frozenset({"json_schema"}), concurrency=4)

    async def models(self) -> list[str]:
        return ["script-1"]

    async def generate(self, request: GenerationRequest) -> Generation:
        if request.seed not in self.seen:
            self.seen.add(request.seed or 0)
            raise ProviderError("rate limited", status=429, retry_after=0.01)
        text = json.dumps({"question": f"What is item {request.seed}?", "answer": "It is a thing."})
        return Generation(text, self.name, "script-1", usage=Usage(10, 5), cost=None)


class Scripted:
    @hookimpl
    def register_providers(self, register: Any) -> None:
        register("scripted", lambda config, context, info: ScriptedProvider(info.name))

    @hookimpl
    def estimate_cost(self, provider: str, model: str, usage: Usage) -> float:
        return usage.total_tokens / 1000

    @hookimpl
    def register_subscribers(self, register: Any) -> None:
        register("collector", lambda context: EVENTS.append)


EVENTS: list[Event] = []


def test_backoff_on_retry_after_then_the_engine_parses_and_prices_itself(tmp_path: Path) -> None:
    job = job_file(
        tmp_path,
        "count = 4\n[validators]\ntruncation = false\njson_schema = false\nrules = false\n"
        '[providers.scripted]\nkind = "scripted"\n',
    )
    outcome = run(make_app(tmp_path, Scripted()), job)
    assert outcome.state is JobState.DONE
    samples = lines(tmp_path)
    assert len(samples) == 4
    # Each request was sent again after its Retry-After: a provider failure never uses an attempt.
    assert {s["meta"]["attempts"] for s in samples} == {1}
    assert {s["meta"]["cost"] for s in samples} == {0.015}
    kinds = [e.kind for e in EVENTS]
    assert kinds[0] == "job_started" and kinds[-1] == "job_done"


def test_inputs_file_makes_one_task_per_row_and_refuses_a_count_above_its_rows(tmp_path: Path) -> None:
    (tmp_path / "rows.jsonl").write_text('{"topic": "bees"}\n{"topic": "tides"}\n{"topic": "rust"}\n')
    job = job_file(tmp_path, 'count = 10\ninputs = "rows.jsonl"\n[providers.teacher]\nkind = "mock"\n')
    with pytest.raises(ConfigError, match=r"\$\.count: 10 samples asked for, but .*rows\.jsonl has 3 rows"):
        run(make_app(tmp_path), job)
    job = job_file(tmp_path, 'count = 3\ninputs = "rows.jsonl"\n[providers.teacher]\nkind = "mock"\n')
    outcome = run(make_app(tmp_path), job)
    assert (outcome.state, outcome.target, outcome.accepted) == (JobState.DONE, 3, 3)
    assert sorted(s["meta"]["task"] for s in lines(tmp_path)) == [0, 1, 2]


def test_job_records_guard_resume_cancel_and_changed_specs(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    job = job_file(tmp_path, 'count = 2\n[providers.teacher]\nkind = "mock"\n')
    with pytest.raises(JobError, match="no job named 'job'"):
        run(app, job, resume=True)
    assert run(app, job).state is JobState.DONE

    (tmp_path / "job" / "data.jsonl").unlink()  # a lost dataset is rebuilt from the store
    again = run(app, job)
    assert (again.state, again.message) == (JobState.DONE, "already done")
    assert len(lines(tmp_path)) == 2

    changed = job_file(tmp_path, 'count = 2\n[providers.teacher]\nkind = "mock"\nconcurrency = 3\n', "other")
    changed.write_text(changed.read_text().replace('name = "other"', 'name = "job"'))
    with pytest.raises(
        ConfigError, match=r"already exists with other settings \(changed: \$\.providers\.teacher\.concurrency\)"
    ):
        run(app, changed)  # a done job is not rerun under other settings

    paused = job_file(tmp_path, 'count = 2\n[providers.teacher]\nkind = "mock"\n', "second")

    in_store(app, lambda store: store.create_job("second", load_job(paused).raw, 2))
    in_store(app, lambda store: store.set_job_state("second", JobState.PAUSED))
    edited = job_file(tmp_path, 'count = 3\n[providers.teacher]\nkind = "mock"\nweight = 2.0\n', "second")
    with pytest.raises(ConfigError, match=r"\(changed: \$\.count, \$\.providers\.teacher\.weight\)"):
        run(app, edited)

    in_store(app, lambda store: store.set_job_state("second", JobState.CANCELLED))
    with pytest.raises(JobError, match="was cancelled"):
        run(app, edited, resume=True)


def test_results_that_outlive_their_lease_are_dropped_and_nothing_is_duplicated(tmp_path: Path) -> None:
    # Leases far shorter than a call: tasks are leased again while their first call is still
    # running, so two workers finish the same task and the store's fence drops the late one.
    # Dedup is left to the store, so the late copy reaches the fence instead of the validator.
    job = job_file(
        tmp_path,
        "count = 24\nworkers = 8\nlease_seconds = 0.05\n[validators]\nexact_dedup = false\n"
        '[providers.teacher]\nkind = "mock"\nconcurrency = 8\nlatency_ms = 300\n',
    )
    outcome = run(make_app(tmp_path), job)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 24)
    samples = lines(tmp_path)
    assert sorted(s["meta"]["task"] for s in samples) == list(range(24))
    twice = sqlite3.connect(tmp_path / "state.db").execute(
        "SELECT COUNT(*) FROM (SELECT idx FROM attempts WHERE ok = 1 GROUP BY idx HAVING COUNT(*) > 1)"
    )
    assert twice.fetchone()[0] > 0, "no task was finished twice: the lease never ran out"


def test_without_a_parsing_validator_the_engine_refuses_non_json(tmp_path: Path) -> None:
    job = job_file(
        tmp_path,
        "count = 2\nmax_attempts = 1\nmax_tasks = 2\n[validators]\ntruncation = false\njson_schema = false\n"
        'rules = false\n[providers.teacher]\nkind = "mock"\ngarbage_rate = 1.0\n',
    )
    outcome = run(make_app(tmp_path), job)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.FAILED, 0, 2)


def test_the_dataset_follows_commit_order_when_samples_must_be_read_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The exporter holds almost nothing in memory, so most samples are read back from the store
    # (as after a resume, or with other workers): the file must still be in seq order, complete.
    monkeypatch.setattr("destilation.engine.exporter.MAX_OFFERED", 3)
    job = job_file(tmp_path, 'count = 120\n[providers.teacher]\nkind = "mock"\nconcurrency = 16\n')
    outcome = run(make_app(tmp_path), job)
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 120)
    in_file = [s["meta"]["task"] for s in lines(tmp_path)]
    by_seq = sqlite3.connect(tmp_path / "state.db").execute("SELECT idx FROM samples ORDER BY seq").fetchall()
    assert in_file == [idx for (idx,) in by_seq]
    assert sorted(in_file) == list(range(120))
