"""Looking never creates: read and steer commands in a folder where nothing has run leave it empty."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

MISSING = "sqlite:///destilation-data/destilation.db does not exist yet (`destiler run JOB.toml` creates it)"


def destiler_in(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    return subprocess.run(
        [sys.executable, "-m", "destilation", *args],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_jobs_says_there_are_none_and_where_it_looked(tmp_path: Path) -> None:
    listed = destiler_in(tmp_path, "jobs")
    assert (listed.returncode, listed.stdout, listed.stderr) == (0, f"no jobs: {MISSING}\n", "")
    as_json = destiler_in(tmp_path, "jobs", "--json")
    assert (as_json.returncode, json.loads(as_json.stdout)) == (0, [])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("show", "x"), f"error: no job named 'x': {MISSING}"),
        (("pause", "x"), f"error: no job named 'x': {MISSING}"),
        (("cancel", "x"), f"error: no job named 'x': {MISSING}"),
        (("delete", "x", "--yes"), f"error: no job named 'x': {MISSING}"),
        (("delete", "x", "--data"), f"error: no job named 'x': {MISSING}"),
        (("tasks", "x"), f"error: no job named 'x': {MISSING}"),
        (("logs", "x", "--follow"), f"error: no job named 'x': {MISSING}"),
        (("inspect", "x/1"), f"error: no job named 'x': {MISSING}"),
        (("resume", "x"), f"error: no job named 'x': {MISSING}"),
    ],
)
def test_a_command_about_a_job_says_there_is_none_and_creates_nothing(
    tmp_path: Path, args: tuple[str, ...], says: str
) -> None:
    result = destiler_in(tmp_path, *args)
    assert result.returncode == 2
    assert result.stderr == says + "\n"
    assert list(tmp_path.iterdir()) == []


def test_with_a_data_dir_named_nothing_is_created_there_either(tmp_path: Path) -> None:
    data = tmp_path / "nested" / "data"
    result = destiler_in(tmp_path, "--data-dir", str(data), "show", "x")
    assert result.returncode == 2
    assert f"{data / 'destilation.db'} does not exist yet" in result.stderr
    assert list(tmp_path.iterdir()) == []
