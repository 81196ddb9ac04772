"""The plugin as the engine meets it: found through its entry point, `check` starts nothing, a whole job runs."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import anyio
import pytest

from destilation import ConfigError
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.plugins import make_plugin_manager

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "script.toml"


def app(tmp_path: Path) -> App:
    return App(
        make_plugin_manager(), Settings(data_dir=str(tmp_path)), f"sqlite:///{tmp_path / 'state.db'}", str(tmp_path)
    )


def test_the_example_job_delivers_its_count_through_the_python_provider(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(ROOT)  # the example's command is relative to where destiler runs
    loaded = load_job(EXAMPLE)
    runner = app(tmp_path)
    outcome = anyio.run(
        functools.partial(runner.run, loaded.spec, loaded.raw, str(EXAMPLE), resume=False, handle_signals=False)
    )
    assert outcome.accepted == loaded.spec.count == 40 and outcome.rejected == 0
    records = [json.loads(line) for line in (tmp_path / "script-echo" / "data.jsonl").read_text().splitlines()]
    assert len(records) == 40 and len({r["question"] for r in records}) == 40
    assert {r["meta"]["provider"] for r in records} == {"teacher"} and {r["meta"]["model"] for r in records} == {
        "echo-1"
    }


def test_check_builds_the_provider_without_starting_the_program(tmp_path: Path, monkeypatch) -> None:
    marker = tmp_path / "started"
    program = tmp_path / "provider.py"
    program.write_text(f"open({str(marker)!r}, 'w').close()\n")
    job = tmp_path / "job.toml"
    job.write_text(f'name = "job"\n[providers.teacher]\nkind = "script"\ncommand = ["python3", {str(program)!r}]\n')
    loaded = load_job(job)
    template = app(tmp_path).check(loaded.spec, str(job))
    assert template.id == "simple" and not marker.exists()


def test_check_refuses_a_shell_string_command_in_one_line(tmp_path: Path) -> None:
    job = tmp_path / "job.toml"
    job.write_text('name = "job"\n[providers.teacher]\nkind = "script"\ncommand = "python3 provider.py"\n')
    loaded = load_job(job)
    with pytest.raises(ConfigError) as caught:
        app(tmp_path).check(loaded.spec, str(job))
    assert str(caught.value) == (
        f"{job}: $.providers.teacher.command: must be a list (an argv, never a shell string): "
        'command = ["python3", "provider.py"]'
    )
