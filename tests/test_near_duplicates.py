"""A mock that repeats itself, with `near_dup` on: no near-duplicate pair in the dataset, feedback in the attempts.

The mock's `repeat` share of answers are near-copies of one answer with a word changed; every
copy resembles every other (exact Jaccard over 0.8 on word 3-shingles), while its own answers
share almost no shingle. So without the check the dataset holds many near-duplicate pairs, and
with it at most one copy gets in.
"""

from __future__ import annotations

import functools
import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio

from destilation import JobState, StateStore
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.engine.runner import RunOutcome
from destilation.plugins import make_plugin_manager
from destilation_validators.shingles import content_text, jaccard, shingles
from tests.test_pause_resume import wait_for_accepted

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


def test_after_a_pause_the_resumed_run_still_knows_the_first_runs_samples(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = job_file(tmp_path, "resumed", near_dup=True, count=40, provider="latency_ms = 25\nconcurrency = 2")
    running = destiler.start("run", str(job))
    try:
        wait_for_accepted(destiler, "resumed", 8)
        assert destiler("pause", "resumed").returncode == 0
        running.communicate(timeout=30)
    finally:
        running.kill()
    first = destiler.lines("resumed")
    assert 0 < len(first) < 40
    first_tasks = {s["meta"]["task"] for s in first}
    url = f"sqlite:///{destiler.data_dir / 'destilation.db'}"
    store = App(make_plugin_manager(), Settings(data_dir=str(destiler.data_dir)), url, str(tmp_path))
    before = near_duplicate_issues(store, "resumed")
    resumed = destiler("resume", "resumed")
    assert resumed.returncode == 0, resumed.stderr
    samples = destiler.lines("resumed")
    assert len(samples) == 40
    assert near_pairs(samples) == []
    # The resumed process began with an empty index: what it refused naming a first-run sample,
    # it learnt from the store.
    after = near_duplicate_issues(store, "resumed")
    new = [issue for issue in after if issue not in before]
    assert {named_task(message) for _, message, _ in new} & first_tasks
    task, message, _ = new[0]
    shown = destiler.json("inspect", f"resumed/{task}")
    assert message in [i["message"] for a in shown["attempt_log"] for i in a["issues"]]
