"""The read commands' text output, for people (in-process `destiler` on a real store)."""

from __future__ import annotations

import json
from pathlib import Path

import anyio
import pytest
from click.testing import CliRunner, Result

from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager
from destilation_sql.store import SqlStore


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    def invoke(*args: str, disable: tuple[str, ...] = ()) -> Result:
        pm = make_plugin_manager(disable=disable)
        return CliRunner().invoke(make_cli(pm), ["--data-dir", str(tmp_path), *args])

    return invoke


def test_empty_store_says_how_to_start(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db = f"sqlite:///{tmp_path / 'destilation.db'}"
    result = cli("jobs")
    assert result.output == f"no jobs: {db} does not exist yet (`destiler run JOB.toml` creates it)\n"
    assert list(tmp_path.iterdir()) == []

    async def make_empty_store() -> None:
        async with SqlStore(db) as store:
            await store.open()

    anyio.run(make_empty_store)
    assert cli("jobs").output == f"no jobs in {db} yet: `destiler run JOB.toml` starts one\n"


def test_text_views_of_a_job_with_rejections(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "mixed.toml"
    job.write_text(
        'name = "mixed"\ncount = 20\nmax_attempts = 2\nseed = 5\n'
        '[providers.teacher]\nkind = "mock"\ngarbage_rate = 0.5\nfailure_rate = 0.2\n',
        encoding="utf-8",
    )
    ran = cli("run", str(job))
    assert ran.exit_code == 0, ran.output
    assert "mixed: done, 20/20 samples accepted" in ran.output

    jobs = cli("jobs").output.splitlines()
    assert jobs[0].split() == ["JOB", "STATE", "ACCEPTED", "REJECTED"]
    assert jobs[1].split()[:3] == ["mixed", "done", "20/20"]

    shown = cli("show", "mixed").output
    assert "       state: done" in shown and "tasks: pending 0, running 0, accepted 20" in shown

    rejected = cli("tasks", "mixed", "--state", "rejected").output.splitlines()
    assert rejected[0].split() == ["TASK", "STATE", "ATTEMPTS", "REASON"]
    assert all(" rejected " in line for line in rejected[1:])
    assert cli("tasks", "mixed", "--state", "running").output == "no running tasks in mixed\n"

    accepted = json.loads(cli("tasks", "mixed", "--state", "accepted", "--limit", "1", "--json").output)[0]
    inspected = cli("inspect", accepted["task"]).output
    assert f"task {accepted['task']}: accepted" in inspected
    assert '"question"' in inspected
    failed_task = rejected[1].split()[0]
    assert "failed" in cli("inspect", failed_task).output
    assert "rejected: [" in cli("inspect", failed_task).output
    missing = cli("inspect", "mixed/99999")
    assert missing.exit_code == 2
    assert "job 'mixed' has no task 99999: its tasks are mixed/0 to mixed/" in missing.output


def test_templates_and_plugins_text(cli) -> None:  # type: ignore[no-untyped-def]
    lines = cli("templates").output.splitlines()
    assert lines[0].split() == ["ID", "VERSION", "MODE", "FROM"]
    rows = [line.split() for line in lines[1:]]
    assert ["simple", "1", "simple", "destilation-templates"] in rows
    assert ["reasoning", "1", "reasoning", "destilation-templates"] in rows
    none = cli("templates", disable=("templates",))
    assert none.output == "no templates installed: install destilation-templates\n"

    hooks = json.loads(cli("plugins", "--hooks", "--json").output)
    assert [h["name"] for h in hooks][:2] == ["register_providers", "register_validators"]
    skipped = cli("plugins", disable=("sql",))
    assert "disabled: sql" in skipped.output


def test_a_plugin_that_fails_to_load_is_shown_and_others_still_work(cli, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import importlib.metadata as md

    real = md.entry_points

    class Broken:
        name = "broken"
        group = "destilation"
        dist = None

        def load(self) -> object:
            raise ImportError("No module named 'destilation_broken'")

    monkeypatch.setattr(md, "entry_points", lambda group: [*real(group=group), Broken()])
    result = cli("plugins")
    assert result.exit_code == 2  # the others are listed, and the failure fails the command
    assert "failed to load broken (broken): ImportError: No module named 'destilation_broken'" in result.output
    assert "destilation-mock" in result.output
    assert cli("templates").exit_code == 0


def test_resume_in_process_and_rejections_with_several_reasons(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    job = tmp_path / "picky.toml"
    job.write_text(
        'name = "picky"\ncount = 3\nmax_attempts = 1\nmax_tasks = 3\n'
        '[providers.teacher]\nkind = "mock"\n[validators.rules]\nmin_length = { question = 5000, answer = 5000 }\n',
        encoding="utf-8",
    )
    ran = cli("run", str(job))
    assert ran.exit_code == 1
    assert "only 0 of 3 samples accepted" in ran.output
    listing = cli("tasks", "picky").output
    assert "(+1 more)" in listing
    resumed = cli("resume", "picky")
    assert resumed.exit_code == 1
    assert "picky: failed, 0/3 samples accepted, 3 tasks rejected" in resumed.output
