"""`destiler run` of a job file whose stored job exists: a higher `count` continues it, other changes are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from destilation.domain import JobState

TOPICS = 'topic = ["tides", "volcanoes", "sorting", "taxes", "bees"]'


def write(path: Path, count: int, topics: str = TOPICS, extra: str = "", provider: str = "concurrency = 8") -> Path:
    path.write_text(
        f'name = "grow"\ncount = {count}\nseed = 3\n{extra}\n[axes]\n{topics}\n'
        f'[providers.teacher]\nkind = "mock"\n{provider}\n',
        encoding="utf-8",
    )
    return path


def assert_exactly(destiler, count: int) -> None:  # type: ignore[no-untyped-def]
    lines = destiler.lines("grow")
    assert len(lines) == count
    assert len({line["meta"]["task"] for line in lines}) == count
    assert len({line["meta"]["content_hash"] for line in lines}) == count
    assert all(isinstance(line["answer"], str) and line["answer"] for line in lines)
    show = destiler.json("show", "grow")
    assert (show["state"], show["target"], show["accepted"]) == (JobState.DONE.value, count, count)


def refusal(result) -> str:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return str(lines[0])


def test_a_done_job_run_with_a_higher_count_grows_to_exactly_the_new_count(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = write(tmp_path / "grow.toml", 30)
    assert destiler("run", str(job)).returncode == 0
    assert_exactly(destiler, 30)
    first = (destiler.data_dir / "grow" / "data.jsonl").read_text(encoding="utf-8")

    write(job, 55)
    grown = destiler("run", str(job))
    assert grown.returncode == 0, grown.stderr
    assert "grow: done, 55/55 samples accepted; dataset in" in grown.stdout
    assert_exactly(destiler, 55)
    assert (destiler.data_dir / "grow" / "data.jsonl").read_text(encoding="utf-8").startswith(first)

    again = destiler("run", str(job))  # nothing changed since: done, nothing sent
    assert again.returncode == 0 and "already done" in again.stdout
    assert_exactly(destiler, 55)
    resumed = destiler("resume", "grow")  # the stored spec is the new one
    assert resumed.returncode == 0 and "55/55" in resumed.stdout


@pytest.mark.parametrize(
    ("change", "keys"),
    [
        ({"topics": 'topic = ["tides", "comets"]'}, "$.axes.topic"),
        ({"extra": "temperature = 0.3", "topics": 'topic = ["tides"]'}, "$.axes.topic, $.temperature"),
        ({"provider": "concurrency = 8\ngarbage_rate = 0.5"}, "$.providers.teacher.garbage_rate"),
        ({"count": 10}, "$.count"),
        ({"count": 40, "extra": "max_attempts = 5"}, "$.count, $.max_attempts"),
    ],
)
def test_a_done_job_whose_file_changed_otherwise_is_refused_naming_the_keys(  # type: ignore[no-untyped-def]
    destiler, tmp_path: Path, change: dict[str, object], keys: str
) -> None:
    job = write(tmp_path / "grow.toml", 20)
    assert destiler("run", str(job)).returncode == 0
    settings: dict[str, object] = {"count": 20, **change}
    write(job, **settings)  # type: ignore[arg-type]
    line = refusal(destiler("run", str(job)))
    assert line == (
        f"error: {job}: job 'grow' already exists with other settings (changed: {keys}); "
        "resume it with `destiler resume grow` or give this job another name"
    )
    assert_exactly(destiler, 20)  # the job and its dataset are as they were


def test_an_unfinished_job_whose_file_changed_is_refused_naming_the_key(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = write(tmp_path / "grow.toml", 5, extra="max_tasks = 5\nmax_attempts = 1", provider="garbage_rate = 1.0")
    failed = destiler("run", str(job))
    assert failed.returncode == 1
    write(job, 5, extra="max_tasks = 5\nmax_attempts = 1", provider="garbage_rate = 0.0")
    line = refusal(destiler("run", str(job)))
    assert "job 'grow' already exists with other settings (changed: $.providers.teacher.garbage_rate)" in line
    assert line.startswith(f"error: {job}: ")
    show = destiler.json("show", "grow")
    assert (show["state"], show["target"], show["accepted"]) == (JobState.FAILED.value, 5, 0)


def test_an_unfinished_job_whose_count_went_up_continues_with_the_new_target(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    every_answer_garbage = "concurrency = 8\ngarbage_rate = 1.0"
    job = write(tmp_path / "grow.toml", 4, extra="max_attempts = 1", provider=every_answer_garbage)
    assert destiler("run", str(job)).returncode == 1  # 12 tasks (3 per sample), all rejected: failed
    shown = destiler.json("show", "grow")
    assert (shown["state"], shown["target"], shown["planned"]) == (JobState.FAILED.value, 4, 12)

    write(job, 6, extra="max_attempts = 1", provider=every_answer_garbage)
    again = destiler("run", str(job))  # not refused: it runs again, to the new target and task limit
    assert again.returncode == 1, again.stderr
    assert "0/6 samples accepted" in again.stderr
    shown = destiler.json("show", "grow")
    assert (shown["state"], shown["target"], shown["planned"]) == (JobState.FAILED.value, 6, 18)
