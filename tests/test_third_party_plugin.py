"""The example third-party plugin in examples/ is installed like any distribution and just works."""

from __future__ import annotations

import importlib.metadata as md

import pytest

from destilation.app import App
from destilation.config import JobSpec, structure
from destilation.testing import TestingKit, job_table
from destilation.testing.pytest_plugin import kit_app, testing_kit  # noqa: F401 - what docs/plugins.md opts into

try:
    md.distribution("destilation-wordcount")
except md.PackageNotFoundError:  # pragma: no cover - tox and ./bootstrap install it
    pytest.skip("examples/destilation_wordcount is not installed", allow_module_level=True)


def test_example_plugin_is_discovered_through_its_entry_point(destiler) -> None:
    report = destiler.json("plugins")
    entry = next(p for p in report["plugins"] if p["name"] == "wordcount")
    assert entry["distribution"] == "destilation-wordcount"
    assert entry["hooks"] == ["register_validators"]


def test_example_validator_runs_inside_a_job_and_its_feedback_is_kept(destiler, write_job) -> None:
    ok = write_job("wordy", count=5, extra="[validators.min_words]\nwords = 2\n")
    assert destiler("run", str(ok)).returncode == 0
    assert len(destiler.lines("wordy")) == 5

    strict = write_job("terse", count=3, extra="max_tasks = 3\n[validators.min_words]\nwords = 100000\n")
    result = destiler("run", str(strict))
    assert result.returncode == 1
    rejected = destiler.json("tasks", "terse", "--state", "rejected")
    assert len(rejected) == 3
    assert {r["code"] for t in rejected for r in t["reasons"]} == {"too_few_words"}


def test_example_plugin_options_are_checked(destiler, write_job) -> None:
    job = write_job(extra='[validators.min_words]\nwords = "many"\n')
    result = destiler("check", str(job))
    assert result.returncode == 2
    assert "$.validators.min_words.words" in result.stderr


@pytest.mark.anyio
async def test_short_answers_are_sent_back(kit_app: App, testing_kit: TestingKit) -> None:  # noqa: F811
    """The example of docs/plugins.md: the plugin tested on the testing kit alone."""
    import destilation_wordcount.plugin

    kit_app.pm.register(destilation_wordcount.plugin)  # your entry-point module is the plugin
    testing_kit.scripts["teacher"] = [
        {"question": "Why is the sky blue?", "answer": "Rayleigh."},
        {"question": "Why is the sky blue?", "answer": "Short waves scatter more."},
    ]
    table = job_table(count=1, validators={"min_words": {"words": 3}})
    spec = structure(table, JobSpec, source="job.toml")
    outcome = await kit_app.run(spec, table, "job.toml", resume=False, handle_signals=False)
    assert outcome.accepted == 1
    retry = testing_kit.providers["teacher"].requests[1]
    assert "too_few_words" in retry.messages[-1].content
    assert testing_kit.dataset("job").records()[0]["answer"] == "Short waves scatter more."
