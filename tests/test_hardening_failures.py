"""Failures at run time end the job `failed` with one line and resume continues it; bad input is one line, exit 2.

Every case runs a real `destiler` process and checks its exit code, its one line on stderr (naming
the file, key or job), that no traceback is printed, and the job's state afterwards.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.conftest import Destiler, problem_lines

FAST = "concurrency = 64\n"
"""Enough requests in flight that a job of 1000+ samples is split over two processes."""


def one_line(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The only line on stderr, after checking the exit code and that no traceback was printed."""
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = problem_lines(result.stderr)
    assert len(lines) == 1, result.stderr
    return lines[0]


def state_of(destiler: Destiler, job: str, *global_options: str) -> dict[str, object]:
    summary = destiler.json(*global_options, "show", job)
    assert isinstance(summary, dict)
    return summary


def assert_complete(destiler: Destiler, job: str, count: int, data_dir: Path | None = None) -> None:
    """The dataset holds exactly `count` whole lines, one per task, none twice."""
    if data_dir is not None:
        destiler = Destiler(destiler.workdir)
        destiler.data_dir = data_dir
    lines = destiler.lines(job)
    assert len(lines) == count
    assert len({line["meta"]["task"] for line in lines}) == count  # type: ignore[index]
    assert len({line["meta"]["content_hash"] for line in lines}) == count  # type: ignore[index]


# Item 6: no job left `running` with nothing running it.


def test_a_dataset_file_that_cannot_open_fails_the_job_and_resume_finishes_it(destiler, write_job) -> None:
    job = write_job("blocked", count=20)
    (destiler.data_dir / "blocked" / "data.jsonl").mkdir(parents=True)
    line = one_line(destiler("run", str(job)), 1)
    assert line.startswith("blocked: failed, 0/20 samples accepted: jsonl sink: cannot open ")
    assert "data.jsonl: Is a directory" in line
    shown = state_of(destiler, "blocked")
    assert shown["state"] == "failed"
    assert "data.jsonl: Is a directory" in str(shown["message"])
    assert destiler.json("tasks", "blocked", "--state", "running") == []
    assert one_line(destiler("inspect", "blocked/0"), 2) == "error: job 'blocked' has no task 0: it has no tasks yet"

    (destiler.data_dir / "blocked" / "data.jsonl").rmdir()
    resumed = destiler("resume", "blocked")
    assert resumed.returncode == 0, resumed.stderr
    assert state_of(destiler, "blocked")["state"] == "done"
    assert_complete(destiler, "blocked", 20)


def test_an_unwritable_data_dir_fails_the_job_and_resume_finishes_it(destiler, write_job, tmpfs, tmp_path) -> None:
    disk = tmpfs("1m")
    disk.remount("ro")
    where = ("--db", f"sqlite:///{tmp_path / 'state.db'}", "--data-dir", str(disk.path))
    line = one_line(destiler(*where, "run", str(write_job("sealed", count=10))), 1)
    assert line.startswith("sealed: failed, 0/10 samples accepted: jsonl sink: cannot ")
    assert "Read-only file system" in line and str(disk.path) in line
    assert state_of(destiler, "sealed", *where)["state"] == "failed"

    disk.remount("rw")
    resumed = destiler(*where, "resume", "sealed")
    assert resumed.returncode == 0, resumed.stderr
    assert_complete(destiler, "sealed", 10, data_dir=disk.path)


def test_a_data_dir_that_is_a_file_fails_the_job_and_resume_finishes_it(destiler, write_job, tmp_path) -> None:
    job = write_job("filed", count=15)
    db = f"sqlite:///{tmp_path / 'state.db'}"
    not_a_dir = tmp_path / "data-file"
    not_a_dir.write_text("not a folder\n")
    line = one_line(destiler("--db", db, "--data-dir", str(not_a_dir), "run", str(job)), 1)
    assert line.startswith("filed: failed, 0/15 samples accepted: jsonl sink: cannot open ")
    assert str(not_a_dir) in line
    assert state_of(destiler, "filed", "--db", db)["state"] == "failed"

    not_a_dir.unlink()
    not_a_dir.mkdir()
    resumed = destiler("--db", db, "--data-dir", str(not_a_dir), "resume", "filed")
    assert resumed.returncode == 0, resumed.stderr
    assert state_of(destiler, "filed", "--db", db)["state"] == "done"
    assert_complete(destiler, "filed", 15, data_dir=not_a_dir)


def test_a_data_dir_that_is_a_file_holding_the_store_is_bad_input(destiler, write_job, tmp_path) -> None:
    not_a_dir = tmp_path / "data-file"
    not_a_dir.write_text("not a folder\n")
    line = one_line(destiler("--data-dir", str(not_a_dir), "run", str(write_job())), 2)
    assert str(not_a_dir) in line


def test_a_full_data_disk_fails_the_job_and_resume_finishes_once_there_is_room(
    destiler, write_job, tmpfs, tmp_path
) -> None:
    disk = tmpfs("200k")
    where = ("--db", f"sqlite:///{tmp_path / 'state.db'}", "--data-dir", str(disk.path))
    job = write_job("full", count=1000, provider=FAST)
    line = one_line(destiler(*where, "run", str(job)), 1)
    assert line.startswith("full: failed, ")
    assert f"jsonl sink: cannot write {disk.path}/full/data.jsonl: No space left on device" in line
    shown = state_of(destiler, "full", *where)
    assert shown["state"] == "failed"
    assert "No space left on device" in str(shown["message"])
    assert shown["counts"]["running"] == 0  # type: ignore[index]

    disk.resize("20m")
    resumed = destiler(*where, "resume", "full")
    assert resumed.returncode == 0, resumed.stderr
    assert state_of(destiler, "full", *where)["state"] == "done"
    assert_complete(destiler, "full", 1000, data_dir=disk.path)


def test_a_full_store_disk_says_so_and_resume_finishes_once_there_is_room(destiler, write_job, tmpfs) -> None:
    disk = tmpfs("500k")
    db = f"sqlite:///{disk.path / 'state.db'}"
    job = write_job("crowded", count=3000, provider=FAST)
    line = one_line(destiler("--db", db, "run", str(job)), 1)
    assert line.startswith("crowded: failed, ")
    assert "state.db: database or disk is full" in line
    shown = state_of(destiler, "crowded", "--db", db)
    if "the store could not record the failure" in line:  # then it keeps the last state it could record
        assert shown["state"] == "running"
    else:
        assert shown["state"] == "failed"
        assert "database or disk is full" in str(shown["message"])

    disk.resize("20m")
    resumed = destiler("--db", db, "resume", "crowded")
    assert resumed.returncode == 0, resumed.stderr
    assert state_of(destiler, "crowded", "--db", db)["state"] == "done"
    assert_complete(destiler, "crowded", 3000)


# 1280 samples at 64 in flight: 20 rounds, the least the automatic split forks workers for.
@pytest.mark.parametrize(("count", "provider"), [(20, ""), (1280, FAST)], ids=["one-process", "two-processes"])
def test_an_unexpected_error_in_a_plugin_fails_the_job_and_resume_finishes_it(
    destiler, write_job, boom_plugin, count, provider
) -> None:
    job = write_job("bug", count=count, provider=provider, extra="[validators.boom]\n")
    line = one_line(destiler("run", str(job), env={**boom_plugin, "BOOM": "1"}), 1)
    assert line == (
        f"bug: failed, 0/{count} samples accepted: unexpected RuntimeError: the boom validator broke "
        "(a bug in destilation or one of its plugins)"
    )
    shown = state_of(destiler, "bug")
    assert shown["state"] == "failed"
    assert "the boom validator broke" in str(shown["message"])
    assert shown["counts"]["running"] == 0  # type: ignore[index]

    resumed = destiler("resume", "bug", env=boom_plugin)
    assert resumed.returncode == 0, resumed.stderr
    assert_complete(destiler, "bug", count)


# Item 7: no tracebacks.


def test_an_in_memory_store_runs_in_one_process_and_refuses_more(destiler, write_job) -> None:
    split = write_job("memo", count=1280, provider=FAST)  # large enough for the automatic split
    result = destiler("--db", "sqlite://", "run", str(split))
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert_complete(destiler, "memo", 1280)

    forced = write_job("forced", count=10, extra="processes = 2")
    line = one_line(destiler("--db", "sqlite://", "run", str(forced)), 2)
    assert line.startswith(f"error: {forced}: $.processes: processes = 2 needs a store every process can open")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (
            ("inspect", "ints/9223372036854775808"),
            "error: TASK: 'ints/9223372036854775808': the task index must be between 0 and 9223372036854775807",
        ),
        (
            ("tasks", "ints", "--offset", "99999999999999999999"),
            "error: Invalid value for '--offset': 99999999999999999999 is not in the range "
            "0<=x<=9223372036854775807 (see `destiler tasks --help`)",
        ),
        (
            ("tasks", "ints", "--limit", "0"),
            "error: Invalid value for '--limit': 0 is not in the range 1<=x<=9223372036854775807 "
            "(see `destiler tasks --help`)",
        ),
    ],
)
def test_integers_out_of_range_are_one_line(destiler, write_job, args, expected) -> None:
    assert destiler("run", str(write_job("ints", count=2))).returncode == 0
    assert one_line(destiler(*args), 2) == expected
    assert state_of(destiler, "ints")["state"] == "done"


# Item 8: right and clear messages.


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ('sampling = "random"', '$.sampling: expected one of "cartesian", "sampled", got "random"'),
        (
            '[validators.rules]\nforbidden = "as an ai"',
            "$.validators.rules.forbidden: expected a list of strings, got a string",
        ),
        ('[sinks.jsonl]\nlanguage = "en"', "$.sinks.jsonl.language: expected a list of strings, got a string"),
    ],
)
def test_wrong_values_name_what_is_expected(destiler, write_job, extra, expected) -> None:
    job = write_job(extra=extra)
    assert one_line(destiler("run", str(job)), 2) == f"error: {job}: {expected}"
    assert destiler.json("jobs") == []


def test_a_string_for_an_axis_is_refused_not_split_into_letters(destiler, tmp_path) -> None:
    job = tmp_path / "optics.toml"
    job.write_text('count = 3\n[axes]\ntopic = "optics"\n[providers.t]\nkind = "mock"\n')
    line = one_line(destiler("run", str(job)), 2)
    assert line == f"error: {job}: $.axes.topic: expected a list of strings, got a string"
    assert destiler.json("jobs") == []


def test_an_empty_axis_names_the_job_file(destiler, tmp_path) -> None:
    job = tmp_path / "empty-axis.toml"
    job.write_text('count = 3\n[axes]\ntopic = []\n[providers.t]\nkind = "mock"\n')
    line = one_line(destiler("run", str(job)), 2)
    assert line == f"error: {job}: $.axes.topic: an axis needs at least one value"


def test_a_missing_openrouter_key_names_the_job_file(destiler, tmp_path) -> None:
    destiler.env.pop("OPENROUTER_API_KEY", None)
    job = tmp_path / "remote.toml"
    job.write_text('count = 3\n[providers.t]\nkind = "openrouter"\nmodel = "openai/gpt-4o-mini"\n')
    line = one_line(destiler("run", str(job)), 2)
    assert line.startswith(f"error: {job}: $.providers.t: provider 't': no API key")
    assert destiler.json("jobs") == []


@pytest.mark.parametrize(
    "args", [("show", "nope"), ("resume", "nope"), ("pause", "nope"), ("cancel", "nope"), ("tasks", "nope")]
)
def test_an_unknown_job_is_bad_input(destiler, args) -> None:
    line = one_line(destiler(*args), 2)
    assert line.startswith("error: no job named 'nope'")  # no store yet: the line says where it looked


def test_an_unknown_task_is_bad_input(destiler, write_job) -> None:
    assert one_line(destiler("inspect", "nope/1"), 2).startswith("error: no job named 'nope'")
    assert destiler("run", str(write_job("known", count=2))).returncode == 0
    line = one_line(destiler("inspect", "known/7"), 2)
    assert line == "error: job 'known' has no task 7: its tasks are known/0 to known/1"
    assert one_line(destiler("show", "nope"), 2).startswith("error: no job named 'nope' in sqlite:///")


# Item 11: inputs files.


def inputs_job(tmp_path: Path, rows_file: str, content: str, count: int, provider: str = "") -> Path:
    (tmp_path / rows_file).write_text(content, encoding="utf-8")
    job = tmp_path / "rows-job.toml"
    job.write_text(
        f'count = {count}\nmax_attempts = 1\ninputs = "{rows_file}"\n[providers.t]\nkind = "mock"\n{provider}',
        encoding="utf-8",
    )
    return job


@pytest.mark.parametrize("command", ["run", "check"])
@pytest.mark.parametrize(
    ("rows_file", "content", "count", "expected"),
    [
        ("rows.csv", "topic\nbees\ntides\n", 5, "$.count: 5 samples asked for, but {rows} has 2 rows"),
        ("rows.csv", "", 1, "{rows}: the inputs file has no rows"),
        ("rows.csv", "bees,easy\n", 1, "{rows}: its columns (bees, easy) include none of the fields"),
        ("rows.csv", "topic\n", 1, "{rows}: the inputs file has no rows"),
        ("rows.jsonl", "\n\n", 1, "{rows}: the inputs file has no rows"),
        ("rows.csv", "bees,easy\ntides,hard\n", 1, "{rows}: its columns (bees, easy) include none of the fields"),
        ("rows.csv", "What are bees?,easy\n", 1, "{rows}:1: the first row is not a header: 'What are bees?'"),
        ("rows.csv", "topic,topic\nbees,tides\n", 1, "{rows}:1: the header names column 'topic' twice"),
        ("rows.csv", "topic,level\nbees\n", 1, "{rows}:2: 1 values, but the header names 2 columns"),
        ("rows.jsonl", '"bees"\n', 1, "{rows}: its rows' keys (prompt) include none of the fields"),
    ],
)
def test_inputs_files_that_cannot_serve_the_job_are_one_line(
    destiler, tmp_path, command, rows_file, content, count, expected
) -> None:
    job = inputs_job(tmp_path, rows_file, content, count)
    line = one_line(destiler(command, str(job)), 2)
    assert expected.format(rows=tmp_path / rows_file) in line
    assert destiler.json("jobs") == []


def test_inspect_shows_the_input_row_as_text(destiler, tmp_path) -> None:
    job = inputs_job(tmp_path, "rows.csv", 'topic,persona\nbees,"a beekeeper, retired"\ntides,a sailor\n', 2)
    assert destiler("run", str(job)).returncode == 0
    text = destiler("inspect", "rows-job/0")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[:3] == [
        "task rows-job/0: accepted after 1 attempt",
        "  input: topic = bees, persona = a beekeeper, retired",
        lines[2],
    ]
    assert lines[2].startswith("  attempt 1 on t/mock-1: ok, ")
    assert "{'" not in text.stdout and "(" not in text.stdout.split("  sample:")[0]
    assert destiler.json("inspect", "rows-job/1")["input"] == {"topic": "tides", "persona": "a sailor"}


def test_inspect_shows_the_axes_of_a_task_as_text(destiler, write_job) -> None:
    assert destiler("run", str(write_job("axed", count=2))).returncode == 0
    text = destiler("inspect", "axed/1")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines()[1] == "  axes: topic = volcanoes"
    assert "{'" not in text.stdout
    assert destiler.json("inspect", "axed/1")["input"] is None


def test_inspect_shows_a_rejection_and_input_values_as_text(destiler, tmp_path) -> None:
    row = '{"topic": "bees", "n": 3, "notes": "two\\nlines"}\n'
    job = inputs_job(tmp_path, "rows.jsonl", row, 1, provider="garbage_rate = 1.0\n")
    assert destiler("run", str(job)).returncode == 1
    lines = destiler("inspect", "rows-job/0").stdout.splitlines()
    assert lines[0] == "task rows-job/0: rejected after 1 attempt"
    assert lines[1] == '  input: topic = bees, n = 3, notes = "two\\nlines"'
    assert lines[2].startswith("  attempt 1 on t/mock-1: failed, ")
    assert lines[3].startswith("    - [invalid_json] at $: ")
    assert lines[-1].startswith("  rejected: [invalid_json]")
