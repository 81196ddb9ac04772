"""`destiler delete JOB [--data] [--yes]`, as real processes: confirm, refuse, delete rows and folder."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from destilation.cli.main import make_cli
from destilation.plugins import make_plugin_manager

SLOW = "latency_ms = 100\nconcurrency = 2"
"""Minutes for 5000 samples: such a job is never done before the test has steered it."""


def one_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    assert len(stderr.splitlines()) == 1, stderr
    return stderr.strip()


@pytest.fixture
def done(destiler: Any, write_job) -> str:  # type: ignore[no-untyped-def]
    """A finished job of 20 samples, with its dataset folder."""
    ran = destiler("run", str(write_job("old", count=20)))
    assert ran.returncode == 0, ran.stderr
    return "old"


def db_url(destiler: Any) -> str:
    return f"sqlite:///{destiler.data_dir / 'destilation.db'}"


def test_without_a_terminal_delete_asks_for_yes_and_deletes_nothing(destiler: Any, done: str) -> None:
    result = destiler("delete", done)
    assert result.returncode == 2
    assert one_line(result.stderr) == "error: delete old: asks for confirmation; not on a terminal, add --yes to delete"
    assert destiler.json("show", done)["state"] == "done"


def test_yes_deletes_the_rows_and_keeps_the_dataset(destiler: Any, done: str) -> None:
    result = destiler("delete", done, "--yes")
    assert result.returncode == 0, result.stderr
    folder = destiler.data_dir / done
    assert result.stdout == f"deleted job 'old' from {db_url(destiler)}; its dataset stays in {folder}\n"
    assert destiler.json("jobs") == []
    assert len(destiler.lines(done)) == 20
    shown = destiler("show", done)
    assert shown.returncode != 0 and "no job named 'old'" in shown.stderr
    # The name is free: the same job file runs again from nothing, into a new dataset.
    again = destiler("delete", done, "--yes")
    assert again.returncode == 2
    assert one_line(again.stderr) == f"error: no job named 'old' in {db_url(destiler)}"


def test_data_removes_the_dataset_folder_too(destiler: Any, done: str) -> None:
    sibling = destiler.data_dir / "other-files"
    sibling.mkdir()
    result = destiler("delete", done, "--data", "-y")
    assert result.returncode == 0, result.stderr
    folder = destiler.data_dir / done
    assert result.stdout == f"deleted job 'old' from {db_url(destiler)} and its dataset folder {folder}\n"
    assert not folder.exists()
    assert sibling.is_dir()
    assert (destiler.data_dir / "destilation.db").is_file()


def test_data_without_a_folder_says_so(destiler: Any, done: str) -> None:
    (destiler.data_dir / done / "data.jsonl").unlink()
    for name in os.listdir(destiler.data_dir / done):
        (destiler.data_dir / done / name).unlink()
    (destiler.data_dir / done).rmdir()
    result = destiler("delete", done, "--data", "--yes")
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(" (it had no dataset folder)\n")


def test_a_symlinked_dataset_folder_is_refused_and_nothing_is_deleted(destiler: Any, done: str, tmp_path: Path) -> None:
    folder = destiler.data_dir / done
    elsewhere = tmp_path / "precious"
    folder.rename(elsewhere)
    folder.symlink_to(elsewhere, target_is_directory=True)
    result = destiler("delete", done, "--data", "--yes")
    assert result.returncode == 2
    assert one_line(result.stderr) == f"error: {folder}: is a symlink, not a dataset folder; nothing deleted"
    assert (elsewhere / "data.jsonl").is_file()
    assert destiler.json("show", done)["state"] == "done"

    folder.unlink()
    folder.write_text("not a folder", encoding="utf-8")
    result = destiler("delete", done, "--data", "--yes")
    assert one_line(result.stderr) == f"error: {folder}: is not a directory, not a dataset folder; nothing deleted"


def test_a_folder_outside_the_data_dir_is_refused(tmp_path: Path) -> None:
    from destilation.cli.delete import dataset_folder
    from destilation.errors import ConfigError

    data = tmp_path / "data"
    (data / "job").mkdir(parents=True)
    assert dataset_folder(str(data), "job") == data / "job"
    assert dataset_folder(str(data), "none") is None
    with pytest.raises(ConfigError, match="is not inside the data dir"):
        dataset_folder(str(data), "job/..")


def _on_terminal(destiler: Any, answer: bytes, *args: str) -> tuple[int, str, str]:
    """Run `destiler` with a pseudo-terminal as stdin and type `answer` at its prompt."""
    master, slave = pty.openpty()
    try:
        process = subprocess.Popen(
            destiler.argv(*args),
            cwd=destiler.workdir,
            env=destiler.env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        os.write(master, answer)
        out, err = process.communicate(timeout=60)
    finally:
        os.close(slave)
        os.close(master)
    return process.returncode, out, err


def test_on_a_terminal_delete_asks_first(destiler: Any, done: str) -> None:
    code, out, err = _on_terminal(destiler, b"n\n", "delete", done, "--data")
    folder = destiler.data_dir / done
    assert err.startswith(
        f"Delete job 'old' (done, 20/20 samples accepted) from {db_url(destiler)} "
        f"and its dataset folder {folder}? [y/N]"
    )
    assert err.endswith("nothing deleted\n")
    assert (code, out) == (1, "")
    assert destiler.json("show", done)["state"] == "done"

    code, out, err = _on_terminal(destiler, b"y\n", "delete", done, "--data")
    assert code == 0, err
    assert out.startswith("deleted job 'old'")
    assert not folder.exists()
    assert destiler.json("jobs") == []


def test_a_running_job_is_refused_until_it_has_stopped(destiler: Any, write_job) -> None:  # type: ignore[no-untyped-def]
    job = write_job("busy", count=5000, provider=SLOW, extra="processes = 1")
    running = destiler.start("run", str(job))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = destiler("show", "busy", "--json")
            if shown.returncode == 0 and json.loads(shown.stdout)["accepted"] > 0:
                break
            time.sleep(0.1)
        refused = destiler("delete", "busy", "--yes", "--data")
        assert refused.returncode == 1
        assert one_line(refused.stderr) == (
            f"error: job 'busy' is running (destiler pid {running.pid} holds the store's runner lock): "
            "cancel it first, then delete it"
        )
        assert (destiler.data_dir / "busy").is_dir()
        assert destiler("cancel", "busy").returncode == 0
        running.communicate(timeout=60)
    finally:
        running.kill()
    deleted = destiler("delete", "busy", "--yes", "--data")
    assert deleted.returncode == 0, deleted.stderr
    assert destiler.json("jobs") == []
    assert not (destiler.data_dir / "busy").exists()


def test_a_job_left_running_by_a_dead_runner_can_be_deleted(destiler: Any, write_job) -> None:  # type: ignore[no-untyped-def]
    job = write_job("orphan", count=5000, provider=SLOW, extra="processes = 1")
    running = destiler.start("run", str(job))
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            shown = destiler("show", "orphan", "--json")
            if shown.returncode == 0 and json.loads(shown.stdout)["accepted"] > 0:
                break
            time.sleep(0.1)
    finally:
        running.kill()  # kill -9: the job stays marked running, with leases that have not expired
        running.communicate(timeout=60)
    assert destiler.json("show", "orphan")["state"] == "running"
    deleted = destiler("delete", "orphan", "--yes")
    assert deleted.returncode == 0, deleted.stderr
    assert destiler.json("jobs") == []


def _invoke(data_dir: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(make_cli(make_plugin_manager()), ["--data-dir", str(data_dir), *args])
    return result.exit_code, result.output


def test_a_job_deleted_meanwhile_and_a_folder_that_will_not_go(
    destiler: Any, done: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    import click

    def answer_after_someone_else_deleted(*_: object, **__: object) -> bool:
        assert destiler("delete", done, "--yes").returncode == 0
        return True

    monkeypatch.setattr("destilation.cli.delete.on_terminal", lambda: True)
    monkeypatch.setattr(click, "confirm", answer_after_someone_else_deleted)
    code, output = _invoke(destiler.data_dir, "delete", done)
    assert code == 2
    assert output == f"error: no job named 'old' in {db_url(destiler)}\n"

    assert destiler("run", str(destiler.workdir / "old.toml")).returncode == 0

    def fail(path: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(shutil, "rmtree", fail)
    code, output = _invoke(destiler.data_dir, "delete", done, "--data", "--yes")
    folder = destiler.data_dir / done
    assert code == 1
    assert output == (
        f"error: deleted job 'old' from {db_url(destiler)}, but its dataset folder {folder} could not be "
        f"removed: [Errno 13] Permission denied: '{folder}'\n"
    )
