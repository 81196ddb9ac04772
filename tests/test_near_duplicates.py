"""A mock that repeats itself, with `near_dup` on: no near-duplicate pair in the dataset, feedback in the attempts.

The mock's `repeat` share of answers are near-copies of one answer with a word changed; every
copy resembles every other (exact Jaccard over 0.8 on word 3-shingles), while its own answers
share almost no shingle. So without the check the dataset holds many near-duplicate pairs, and
with it at most one copy gets in.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from destilation import Generation, GenerationRequest, JobState, ProviderInfo, StateStore, hookimpl
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.engine.runner import RunOutcome
from destilation.plugins import make_plugin_manager
from destilation_mock.config import MockConfig
from destilation_mock.provider import MockProvider
from destilation_validators.shingles import content_text, jaccard, shingles

THRESHOLD = 0.6
TEMPLATE = """\
id = "long_answer"
user_prompt = "Explain {topic} in a long answer."
default_validators = ["json_schema", "exact_dedup"]

[schema]
type = "object"
required = ["question", "answer"]
additionalProperties = false
[schema.properties.question]
type = "string"
minLength = 10
[schema.properties.answer]
type = "string"
minLength = 300
"""


def job_file(tmp_path: Path, name: str, *, near_dup: bool, count: int = 30, provider: str = "concurrency = 8") -> Path:
    (tmp_path / "long_answer.toml").write_text(TEMPLATE, encoding="utf-8")
    validators = f"near_dup = {{ threshold = {THRESHOLD} }}" if near_dup else ""
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ntemplate = "{tmp_path / "long_answer.toml"}"\ncount = {count}\nseed = 5\n'
        f"max_attempts = 4\n"
        '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees", "rust", "clouds"]\n'
        f"[validators]\n{validators}\n"
        f'[providers.teacher]\nkind = "mock"\nrepeat = 0.5\n{provider}\n',
        encoding="utf-8",
    )
    return path


def make_app(tmp_path: Path) -> App:
    return App(
        make_plugin_manager(), Settings(data_dir=str(tmp_path)), f"sqlite:///{tmp_path / 'state.db'}", str(tmp_path)
    )


def run(app: App, job: Path) -> RunOutcome:
    loaded = load_job(job)
    return anyio.run(functools.partial(app.run, loaded.spec, loaded.raw, str(job), resume=False, handle_signals=False))


def read_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def near_pairs(samples: list[dict[str, Any]]) -> list[tuple[int, int, float]]:
    """Every pair of samples at or above the threshold, by exact Jaccard on the validator's own shingles."""
    sets = [
        (s["meta"]["task"], shingles(content_text({k: s[k] for k in ("question", "answer")}, None), 3)) for s in samples
    ]
    return [
        (a, b, similarity)
        for i, (a, first) in enumerate(sets)
        for b, second in sets[i + 1 :]
        if (similarity := jaccard(first, second)) >= THRESHOLD
    ]


def named_task(message: str) -> int:
    """The accepted sample's task a near_duplicate message names."""
    return int(message.split("sample of task ")[1].split(":")[0].split(",")[0])


def near_duplicate_issues(app: App, job: str) -> list[tuple[int, str, str | None]]:
    """(task, message, hint) of every near_duplicate issue in the stored attempts of `job`."""

    async def main() -> list[tuple[int, str, str | None]]:
        found = []
        async with AsyncExitStack() as stack:
            store: StateStore = await app.open_store(stack)
            for task in await store.list_tasks(job, limit=1000):
                detail = await store.get_task(job, task.index)
                assert detail is not None
                found += [
                    (task.index, issue.message, issue.hint)
                    for attempt in detail.attempts
                    for issue in attempt.issues
                    if issue.code == "near_duplicate"
                ]
        return found

    return anyio.run(main)


def test_a_repeating_mock_yields_near_duplicates_without_the_check(tmp_path: Path) -> None:
    outcome = run(make_app(tmp_path), job_file(tmp_path, "plain", near_dup=False))
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 30)
    assert len(near_pairs(read_lines(tmp_path / "plain" / "data.jsonl"))) > 10


def test_with_near_dup_no_pair_is_above_the_threshold_and_the_feedback_is_stored(tmp_path: Path) -> None:
    app = make_app(tmp_path)
    outcome = run(app, job_file(tmp_path, "checked", near_dup=True))
    assert (outcome.state, outcome.accepted) == (JobState.DONE, 30)
    samples = read_lines(tmp_path / "checked" / "data.jsonl")
    assert len(samples) == 30
    assert near_pairs(samples) == []
    accepted = {s["meta"]["task"] for s in samples}
    issues = near_duplicate_issues(app, "checked")
    assert len(issues) >= 5
    for task, message, hint in issues:
        named = named_task(message)
        assert named != task and named in accepted
        assert "similarity" in message
        assert hint is not None and "take a different angle" in hint


class GatedMock(MockProvider):
    """The mock, stopping for good after `limit` answers so a pause always lands midway."""

    def __init__(self, config: MockConfig, info: ProviderInfo, limit: int | None, reached: anyio.Event) -> None:
        super().__init__(config, None, info)
        self.limit, self.reached = limit, reached

    async def generate(self, request: GenerationRequest) -> Generation:
        if self.limit is not None:
            if self.limit <= 0:
                self.reached.set()
                await anyio.sleep_forever()
            self.limit -= 1
        return await super().generate(request)


class Gate:
    """Registers the `gated` provider kind: the mock with its options, answering `limit` times."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.reached = anyio.Event()

    @hookimpl
    def register_providers(self, register: Any) -> None:
        def make(config: MockConfig, context: Any, info: ProviderInfo) -> GatedMock:
            return GatedMock(config, info, self.limit, self.reached)

        register("gated", make, config=MockConfig)


def test_after_a_pause_the_resumed_run_still_knows_the_first_runs_samples(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "resumed", near_dup=True, count=40, provider="concurrency = 2")
    job.write_text(job.read_text().replace('kind = "mock"', 'kind = "gated"'))
    loaded = load_job(job)
    url = f"sqlite:///{destiler.data_dir / 'destilation.db'}"

    def app(gate: Gate) -> App:
        plugins = make_plugin_manager(extra=[gate])
        return App(plugins, Settings(data_dir=str(destiler.data_dir)), url, str(destiler.data_dir))

    async def first_run() -> RunOutcome:
        gate = Gate(limit=30)
        running = app(gate)
        outcome: list[RunOutcome] = []

        async def run_job() -> None:
            outcome.append(await running.run(loaded.spec, loaded.raw, str(job), resume=False, handle_signals=False))

        async with anyio.create_task_group() as tg:
            tg.start_soon(run_job)
            await gate.reached.wait()
            async with AsyncExitStack() as stack:
                store = await running.open_store(stack)
                await store.set_job_state("resumed", JobState.PAUSED, "paused by the test")
        return outcome[0]

    paused = anyio.run(first_run)
    assert paused.state is JobState.PAUSED
    first = destiler.lines("resumed")
    assert 5 < len(first) < 40
    first_tasks = {s["meta"]["task"] for s in first}
    before = near_duplicate_issues(app(Gate(None)), "resumed")

    call = functools.partial(app(Gate(None)).run, loaded.spec, loaded.raw, str(job), resume=True, handle_signals=False)
    resumed = anyio.run(call)
    assert (resumed.state, resumed.accepted) == (JobState.DONE, 40)
    samples = destiler.lines("resumed")
    assert len(samples) == 40
    assert near_pairs(samples) == []
    # The resumed run began with an empty index: what it refused naming a first-run sample, it
    # learnt from the store.
    after = near_duplicate_issues(app(Gate(None)), "resumed")
    new = [issue for issue in after if issue not in before]
    assert {named_task(message) for _, message, _ in new} & first_tasks
    task, message, _ = new[0]
    shown = destiler.json("inspect", f"resumed/{task}")
    assert message in [i["message"] for a in shown["attempt_log"] for i in a["issues"]]


def test_worker_processes_learn_each_others_samples_from_the_store(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "forked", near_dup=True, count=150, provider="concurrency = 16\nlatency_ms = 2")
    job.write_text(job.read_text().replace("max_attempts = 4", "max_attempts = 4\nprocesses = 2"))
    done = destiler("run", str(job))
    assert done.returncode == 0, done.stderr
    samples = destiler.lines("forked")
    assert len(samples) == 150
    # Each process reserves what it lets through, so while neither has seen the other's copy
    # stored, at most one copy from each can pass: one pair at most, never more.
    assert len(near_pairs(samples)) <= 1


def test_without_datasketch_a_job_naming_near_dup_stops_with_one_line_naming_the_extra(
    destiler, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "bare", near_dup=True)
    hide = "import sys; sys.modules['datasketch'] = None; from destilation.cli.main import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", hide, "check", str(job)],
        cwd=tmp_path,
        env=destiler.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: validator 'near_dup' needs the datasketch package")
    assert "pip install 'destilation-validators[neardup]'" in line


def test_inspect_shows_the_near_duplicate_and_the_next_prompt_carrying_it(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "shown", near_dup=True, count=20)
    job.write_text(job.read_text().replace("max_attempts = 4", 'max_attempts = 4\nkeep_attempts = "all"'))
    done = destiler("run", str(job))
    assert done.returncode == 0, done.stderr
    samples = destiler.lines("shown")
    assert len(samples) == 20 and near_pairs(samples) == []
    url = f"sqlite:///{destiler.data_dir / 'destilation.db'}"
    app = App(make_plugin_manager(), Settings(data_dir=str(destiler.data_dir)), url, str(destiler.data_dir))
    accepted_tasks = {s["meta"]["task"] for s in samples}
    # A task accepted after a near-duplicate attempt: another attempt followed that one.
    task, message, _ = next(i for i in near_duplicate_issues(app, "shown") if i[0] in accepted_tasks)
    shown = destiler("inspect", f"shown/{task}")
    assert shown.returncode == 0, shown.stderr
    _, _, later = shown.stdout.partition(f"[near_duplicate] at $: {message}")
    assert later, shown.stdout
    # The failed attempt shows its raw answer; the next one was asked again with the issue in its prompt.
    assert "    response:\n" in later.split("  attempt ")[0]
    retry = later.split("  attempt ", 1)[1]
    assert "    feedback given: [near_duplicate]" in retry
    assert "Your previous answer was rejected:" in retry and f"- [near_duplicate] at $: {message}" in retry
    # Every line carries the same keys, its prompt and its input among them.
    assert len({json.dumps(sorted(s["meta"])) for s in samples}) == 1
    accepted = next(s for s in samples if s["meta"]["task"] == task)
    assert accepted["meta"]["input"]["axes"]["topic"] in accepted["meta"]["messages"][0]["content"]
