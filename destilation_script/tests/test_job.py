"""The provider inside a real job, with the core's testing kit around it: check starts nothing, a job runs."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

import destilation_script.plugin
from destilation import ConfigError
from destilation.app import App
from destilation.config import JobSpec, structure
from destilation.testing import TestingKit, job_table
from destilation.testing.pytest_plugin import kit_app, testing_kit  # noqa: F401 - the kit's fixtures

ECHO = Path(__file__).resolve().parents[2] / "examples" / "script" / "echo_provider.py"


def script_job(command: object, **keys: object) -> tuple[JobSpec, dict]:
    table = job_table(providers=(), **keys)
    table["providers"] = {"teacher": {"kind": "script", "command": command, "concurrency": 4}}
    return structure(table, JobSpec, source="job.toml"), table


@pytest.mark.anyio
async def test_a_job_delivers_its_count_from_the_example_provider(kit_app: App, testing_kit: TestingKit) -> None:  # noqa: F811
    kit_app.pm.register(destilation_script.plugin)
    spec, table = script_job([sys.executable, str(ECHO)], count=6)
    outcome = await kit_app.run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert (outcome.accepted, outcome.rejected) == (6, 0)
    records = testing_kit.dataset("job").records()
    assert len(records) == 6 and len({r["question"] for r in records}) == 6


@pytest.mark.anyio
async def test_a_program_that_cannot_start_stops_the_job_with_one_line(kit_app: App, tmp_path: Path) -> None:  # noqa: F811
    """Not each task refused in turn: the provider is broken for the whole job, so the job stops."""
    kit_app.pm.register(destilation_script.plugin)
    spec, table = script_job([sys.executable, str(tmp_path / "missing.py")], count=6)
    outcome = await kit_app.run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert (outcome.state.value, outcome.accepted, outcome.rejected) == ("failed", 0, 0)
    assert outcome.message.startswith("provider 'teacher' stopped the job: the program failed to start")
    assert "\n" not in outcome.message


def test_check_builds_the_provider_without_starting_the_program(kit_app: App, tmp_path: Path) -> None:  # noqa: F811
    kit_app.pm.register(destilation_script.plugin)
    marker = tmp_path / "started"
    program = tmp_path / "provider.py"
    program.write_text(f"open({str(marker)!r}, 'w').close()\n")
    spec, _ = script_job([sys.executable, str(program)])
    assert kit_app.check(spec, "job.toml").id == "testing.qa"
    assert not marker.exists()


def test_check_refuses_a_shell_string_command_in_one_line(kit_app: App) -> None:  # noqa: F811
    kit_app.pm.register(destilation_script.plugin)
    spec, _ = script_job("python3 provider.py")
    with pytest.raises(ConfigError) as caught:
        kit_app.check(spec, "job.toml")
    assert str(caught.value) == (
        "job.toml: $.providers.teacher.command: must be a list (an argv, never a shell string): "
        'command = ["python3", "provider.py"]'
    )
