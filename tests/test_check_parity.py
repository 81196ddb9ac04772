"""`destiler check` refuses everything `destiler run` refuses before a request, with the same one line.

Each case runs through both commands as real processes: exit 2, one line on stderr naming the
file and key (or the plugin and its distribution), no traceback, and `run` leaves no job behind.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path

import attrs
import pytest

JOB = 'name = "parity"\ncount = 10\n{extra}\n[axes]\ntopic = ["tides", "bees"]\n[providers.teacher]\n{provider}\n'
MOCK = 'kind = "mock"'


@attrs.frozen
class Case:
    """A job that both commands must refuse, and what the one line must say."""

    extra: str = ""
    provider: str = MOCK
    files: dict[str, str] = attrs.field(factory=dict)
    """Files written next to the job file."""
    says: tuple[str, ...] = ()
    """Parts of the error line; `{dir}` is the folder the job file is in."""
    broken_plugin: bool = False
    """Run with a `destilation` entry point that fails to import."""


def broken_plugin(site: Path) -> dict[str, str]:
    """An environment in which a `destilation` entry point fails to import: a dist-info on PYTHONPATH."""
    info = site / "destilation_broken-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: destilation-broken\nVersion: 0.1\n", encoding="utf-8")
    (info / "entry_points.txt").write_text("[destilation]\nbroken = destilation_broken_nowhere\n", encoding="utf-8")
    return {"PYTHONPATH": str(site)}


CASES = {
    "template schema": Case(
        extra='template = "mine.toml"',
        files={"mine.toml": 'id = "mine"\nuser_prompt = "About {topic}"\n[schema]\ntype = "objekt"\n'},
        says=("{dir}/mine.toml: $.schema.type: not a valid JSON schema: 'objekt' is not valid",),
    ),
    "missing api key": Case(
        provider='kind = "openrouter"\nmodel = "openai/gpt-4o-mini"',
        says=("{dir}/job.toml: $.providers.teacher: ", "no API key: set OPENROUTER_API_KEY"),
    ),
    "jsonl line not an object": Case(
        extra='inputs = "rows.jsonl"',
        files={"rows.jsonl": '{"prompt": "a"}\n{"prompt": "b"}\n[1, 2]\n'},
        says=("{dir}/rows.jsonl:3: expected a JSON object (or a string), got an array",),
    ),
    "jsonl line not json": Case(
        extra='inputs = "rows.jsonl"',
        files={"rows.jsonl": '{"prompt": "a"}\n{"prompt": \n'},
        says=("{dir}/rows.jsonl:2: invalid JSON line",),
    ),
    "csv row of the wrong width": Case(
        extra='inputs = "rows.csv"',
        files={"rows.csv": "prompt,level\nsay hi,easy\nsay bye,hard,extra\n"},
        says=("{dir}/rows.csv:3: 3 values, but the header names 2 columns",),
    ),
    "negative workers": Case(extra="workers = -3", says=("{dir}/job.toml: $.workers: must be >= 1: -3",)),
    "zero workers": Case(extra="workers = 0", says=("{dir}/job.toml: $.workers: must be >= 1: 0",)),
    "zero max_tasks": Case(extra="max_tasks = 0", says=("{dir}/job.toml: $.max_tasks: must be >= 1: 0",)),
    "negative max_tasks": Case(extra="max_tasks = -5", says=("{dir}/job.toml: $.max_tasks: must be >= 1: -5",)),
    "judge provider not in the job": Case(
        extra='[validators.judge]\nprovider = "juge"\nrubric = [{ name = "clear", description = "Is it clear?" }]',
        says=(
            "{dir}/job.toml: $.validators.judge.provider: the judge's provider 'juge' is not a provider of this job",
        ),
    ),
    "plugin failed to load": Case(
        says=(
            "plugin 'broken' from destilation-broken failed to load (ModuleNotFoundError: ",
            "destilation_broken_nowhere",
            "DESTILATION_DISABLE_PLUGINS=broken",
        ),
        broken_plugin=True,
    ),
}


@pytest.fixture
def refused(destiler, tmp_path: Path) -> Callable[[Case, str], list[str]]:  # type: ignore[no-untyped-def]
    """Write the case's files, run `destiler COMMAND job.toml`, check the refusal, return stderr's lines."""

    def run(case: Case, command: str) -> list[str]:
        folder = tmp_path / "job"
        folder.mkdir(exist_ok=True)
        job = folder / "job.toml"
        job.write_text(JOB.format(extra=case.extra, provider=case.provider), encoding="utf-8")
        for name, text in case.files.items():
            (folder / name).write_text(text, encoding="utf-8")
        env = broken_plugin(tmp_path / "site") if case.broken_plugin else {}
        result = destiler(command, str(job), env=env)
        assert result.returncode == 2, (result.stdout, result.stderr)
        assert "Traceback" not in result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("error: ")
        for part in case.says:
            assert part.format(dir=folder) in lines[0]
        return lines

    return run


@pytest.fixture(autouse=True)
def _no_openrouter_key(destiler) -> None:  # type: ignore[no-untyped-def]
    destiler.env.pop("OPENROUTER_API_KEY", None)


@pytest.mark.parametrize("case", CASES.values(), ids=list(CASES))
def test_check_and_run_refuse_alike_and_run_creates_no_job(destiler, refused, case: Case) -> None:  # type: ignore[no-untyped-def]
    assert refused(case, "check") == refused(case, "run")
    assert destiler.json("jobs") == []


def test_the_same_job_without_those_mistakes_passes_check_and_run(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The refusals above are the cases' own: the same job without them passes both commands."""
    job = tmp_path / "good.toml"
    job.write_text(JOB.format(extra="workers = 1\nmax_tasks = 20", provider=MOCK), encoding="utf-8")
    checked = destiler("check", str(job))
    assert checked.returncode == 0, checked.stderr
    ran = destiler("run", str(job))
    assert ran.returncode == 0, ran.stderr
    assert len(destiler.lines("parity")) == 10


@pytest.mark.parametrize("processes", ["", "processes = 1000"])
def test_check_says_one_process_for_a_ten_sample_job(destiler, tmp_path: Path, processes: str) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "small.toml"
    job.write_text(JOB.format(extra=processes, provider=MOCK + "\nconcurrency = 1000"), encoding="utf-8")
    result = destiler("check", str(job))
    assert result.returncode == 0, result.stderr
    assert "10 samples" in result.stdout
    assert ", 1 process" in result.stdout and "processes," not in result.stdout
    if processes:
        assert "(processes = 1000 is more than it can use)" in result.stdout


def test_check_builds_providers_without_connecting_to_them(destiler, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.setblocking(False)
        port = server.getsockname()[1]
        provider = f'kind = "openai"\nmodel = "m"\nbase_url = "http://127.0.0.1:{port}/v1"\napi_key = "sk-test"'
        job = tmp_path / "remote.toml"
        job.write_text(JOB.format(extra="", provider=provider), encoding="utf-8")
        result = destiler("check", str(job))
        assert result.returncode == 0, result.stderr
        assert "providers: teacher (openai)" in result.stdout
        with pytest.raises(BlockingIOError):  # check has exited: a connection would be waiting here
            server.accept()
