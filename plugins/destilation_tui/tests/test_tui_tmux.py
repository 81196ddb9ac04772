"""End to end: a real job, `destiler tui` in a real terminal (tmux), paused with `p` and resumed with `r`.

The screen is read with `tmux capture-pane`; the store is read with `destiler show --json`, as a
second person at another terminal would check it.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

pytest.importorskip("destilation_mock", reason="the end-to-end test runs a mock-provider job")
pytest.importorskip("destilation_sql", reason="the end-to-end test keeps the job in a SQLite store")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux is not installed (.ci/run installs it)"),
]

JOB = """\
name = "steered"
count = 300
seed = 5
[axes]
topic = ["tides", "bees", "taxes"]
[providers.teacher]
kind = "mock"
model = "mock-1"
latency_ms = 60
concurrency = 4
"""


class Tmux:
    """One tmux server of our own (its own socket), 100x30, running one command."""

    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.socket = f"destilation-tui-{os.getpid()}-{time.monotonic_ns()}"
        self.workdir, self.env = workdir, env

    def tmux(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True, check=False)

    def start(self, argv: list[str]) -> None:
        # The pane gets exactly this environment (coverage's subprocess settings included).
        env_args = [a for k, v in self.env.items() for a in ("-e", f"{k}={v}")]
        command = " ".join(_quote(a) for a in argv)
        done = self.tmux("new-session", "-d", "-x", "100", "-y", "30", "-c", str(self.workdir), *env_args, command)
        assert done.returncode == 0, done.stderr

    def screen(self) -> str:
        return self.tmux("capture-pane", "-p").stdout

    def keys(self, *keys: str) -> None:
        self.tmux("send-keys", *keys)

    def alive(self) -> bool:
        return self.tmux("has-session").returncode == 0

    def wait_for(self, pattern: str, timeout: float = 60) -> str:
        return (
            wait(lambda: re.search(pattern, self.screen(), re.M) is not None, timeout, f"{pattern!r} on screen") or ""
        )


def _quote(arg: str) -> str:
    return "'" + arg.replace("'", "'\\''") + "'"


def wait(condition: Callable[[], object], timeout: float, what: str) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout}s for {what}")


@pytest.fixture
def tmux(tmp_path: Path) -> Iterator[Tmux]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DESTILATION_")}
    env.update(DESTILATION_DATA_DIR=str(tmp_path / "data"), TERM="xterm-256color", NO_COLOR="1")
    session = Tmux(tmp_path, env)
    yield session
    session.tmux("kill-server")


def show(tmux: Tmux) -> dict[str, object]:
    argv = [sys.executable, "-m", "destilation", "show", "steered", "--json"]
    done = subprocess.run(argv, cwd=tmux.workdir, env=tmux.env, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def test_pause_and_resume_from_the_dashboard(tmux: Tmux, tmp_path: Path) -> None:
    """About 10 s: two engine runs, a dashboard and a few `destiler show`, all real processes.

    300 samples at 4 x 60 ms take about 4.5 s: long enough that the pause lands mid-job on a busy machine.
    """
    (tmp_path / "steered.toml").write_text(JOB, encoding="utf-8")
    # The dashboard opens first: with no store yet it shows a banner and waits for one.
    tmux.start([sys.executable, "-m", "destilation", "tui", "--job", "steered"])
    tmux.wait_for(r"store unreachable, reconnecting: ")
    run = subprocess.Popen(
        [sys.executable, "-m", "destilation", "run", "steered.toml"],
        cwd=tmp_path,
        env=tmux.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        tmux.wait_for(r"Job steered: running")
        tmux.wait_for(r"accepted  \[#*\.*\] [1-9]")
        tmux.keys("p")
        tmux.wait_for(r"Job steered: paused")
        assert "steered: paused" in tmux.screen()
        _, stderr = run.communicate(timeout=60)  # the engine saw the pause and stopped
    finally:
        run.kill()
    assert run.returncode == 1 and "paused" in stderr
    paused = show(tmux)
    assert paused["state"] == "paused" and paused["message"] == "paused from `destiler tui`"
    assert 0 < paused["accepted"] < 300  # type: ignore[operator]
    assert paused["counts"]["running"] == 0  # type: ignore[index]
    time.sleep(1.0)  # a second later nothing more was claimed or accepted
    assert show(tmux)["counts"] == paused["counts"]

    tmux.keys("r")
    tmux.wait_for(r"steered: resuming \(destiler resume, pid \d+\)")
    tmux.wait_for(r"Job steered: done", timeout=90)
    screen = tmux.wait_for(r"accepted  \[#{30}\] 300")
    assert "300/300 accepted (100%)" in tmux.screen(), screen
    final = show(tmux)
    assert final["state"] == "done" and final["accepted"] == 300
    tmux.keys("Tab")
    tmux.wait_for(r"\[tasks\]")
    tmux.keys("q")
    wait(lambda: not tmux.alive(), 30, "the dashboard to quit")
