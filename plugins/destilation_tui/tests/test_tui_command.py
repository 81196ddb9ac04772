"""`destiler tui`: found through its entry point, refuses a pipe in one line, hands the session its store."""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import anyio
import pytest
from click.testing import CliRunner

from destilation.cli.main import make_cli
from destilation.interfaces import StoreMissing
from destilation_tui import command, control, session
from destilation_tui.dashboard import JOB


def test_the_plugin_adds_the_tui_command() -> None:
    assert "tui" in make_cli().commands


def test_without_a_terminal_it_says_so_in_one_line() -> None:
    result = CliRunner().invoke(make_cli(), ["tui"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        "error: destiler tui needs a terminal; use `destiler jobs` or `destiler show JOB` in scripts"
    ]


def test_a_store_url_no_plugin_serves_is_bad_input(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(command, "on_terminal", lambda: True)
    monkeypatch.setattr(session, "run", lambda *a, **k: pytest.fail("the dashboard must not start"))
    result = CliRunner().invoke(make_cli(), ["tui", "--db", "foo://somewhere"])
    assert result.exit_code == 2
    [line] = result.output.strip().splitlines()
    assert line.startswith("error: --db: ") and "'foo'" in line


def test_the_session_gets_the_store_the_job_and_the_colour_choice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("destilation_sql", reason="the default store is a SQLite file")
    ran: dict[str, Any] = {}

    def run(dashboard: Any, open_store: Any, *, screen: Any, no_color: bool) -> None:
        ran.update(dashboard=dashboard, open_store=open_store, no_color=no_color)

    monkeypatch.setattr(command, "on_terminal", lambda: True)
    monkeypatch.setattr(session, "run", run)
    monkeypatch.setenv("NO_COLOR", "1")
    url = f"sqlite:///{tmp_path / 'none.db'}"
    args = ["--data-dir", str(tmp_path), "tui", "--db", url, "--job", "qa"]
    result = CliRunner().invoke(make_cli(), args)
    assert result.exit_code == 0, result.output
    board = ran["dashboard"]
    assert (board.store_url, board.data_dir, board.job, board.view) == (url, str(tmp_path), "qa", JOB)
    assert ran["no_color"] is True
    assert any(p.startswith("tui (destilation-tui ") for p in board.plugins)
    resumer = board._resume
    assert isinstance(resumer, control.Resumer) and resumer.env is not None
    assert (resumer.env["DESTILATION_DB"], resumer.env["DESTILATION_DATA_DIR"]) == (url, str(tmp_path))

    async def open_missing() -> None:
        async with AsyncExitStack() as stack:
            await ran["open_store"](stack)

    with pytest.raises(StoreMissing):  # looking never creates a store
        anyio.run(open_missing)
    assert not (tmp_path / "none.db").exists()


def test_resume_env_names_the_config_file_when_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DESTILATION_CONFIG", raising=False)
    monkeypatch.setenv("PATH_FOR_THE_TEST", "kept")
    env = command.resume_env("sqlite:///a.db", "data", "dest.toml")
    assert (env["DESTILATION_CONFIG"], env["PATH_FOR_THE_TEST"]) == ("dest.toml", "kept")
    assert "DESTILATION_CONFIG" not in command.resume_env("sqlite:///a.db", "data", None)
