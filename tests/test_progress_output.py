"""What `destiler run` shows while it runs, as real processes: plain lines, -v, -q, a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import struct
import subprocess
import termios
from typing import Any

# 60 samples, 4 at a time, 100 ms each: the run lasts 1.5 seconds at least, so progress
# (published every half second, the plain line written at once) is certain to be shown.
SLOW = "latency_ms = 100\nconcurrency = 4"
PLAIN = re.compile(
    r"slow: \d+/(60|200) accepted, \d+ rejected, \d+\.\d/s, eta \S+"
    r"(, \d+ provider errors?)?(, \d+ answers? failed validation)?"
)
NOTICE = re.compile(
    r"slow: provider teacher(, task \d+)?: \S.*"
    r"|slow: paused: every provider is unavailable: .*; probing the providers"
    r"|slow: a provider answers again: work goes on"
)
"""What `-v` adds: the call policy's notices about the provider (a backoff, its circuit), never a retried request;
and at any verbosity a hold (30 % failures can open the circuit: five in a row) and its end."""


def test_without_a_terminal_progress_is_a_plain_line_on_stderr(destiler: Any, write_job: Any) -> None:
    result = destiler("run", str(write_job("slow", count=60, provider=SLOW)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("slow: done, 60/60 samples accepted")
    lines = result.stderr.splitlines()
    assert lines, "no progress line"
    assert all(PLAIN.fullmatch(line) for line in lines), lines
    assert "\r" not in result.stderr and "\x1b" not in result.stderr


def test_verbose_lines_are_provider_errors_or_progress_and_the_figures_count_them(
    destiler: Any, write_job: Any
) -> None:
    # 200 samples: five seconds at least, so two progress lines or more, the later ones after both kinds of failure.
    # Provider errors are the call policy's to retry; the figures count them from its health rows.
    job = write_job("slow", count=200, provider=SLOW + "\nfailure_rate = 0.3\ngarbage_rate = 0.3")
    result = destiler("run", "-v", str(job))
    assert result.returncode == 0, result.stderr
    lines = result.stderr.splitlines()
    errors = [line for line in lines if NOTICE.fullmatch(line)]
    progress = [line for line in lines if PLAIN.fullmatch(line)]
    assert progress
    assert len(errors) + len(progress) == len(lines), lines
    assert any("provider error" in line and "failed validation" in line for line in progress), progress
    quiet = destiler("run", str(write_job("slow2", count=20, provider="failure_rate = 0.3")))
    assert not any("provider teacher" in line for line in quiet.stderr.splitlines())


def test_quiet_shows_only_the_result_line(destiler: Any, write_job: Any) -> None:
    job = write_job("slow", count=60, provider=SLOW + "\nfailure_rate = 0.2")
    result = destiler("run", "-q", str(job))
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.splitlines() == [
        f"slow: done, 60/60 samples accepted; dataset in {destiler.data_dir / 'slow'}"
    ]
    resumed = destiler("resume", "-q", "slow")
    assert resumed.returncode == 0 and resumed.stderr == ""
    assert len(resumed.stdout.splitlines()) == 1


def test_verbose_and_quiet_together_are_refused_in_one_line(destiler: Any, write_job: Any) -> None:
    result = destiler("run", "-v", "-q", str(write_job("slow", count=5)))
    assert result.returncode == 2
    assert result.stderr == "error: -v/-q: choose one: -v shows more, -q shows only the result\n"


def _on_terminal(destiler: Any, columns: int, *args: str) -> tuple[int, str, bytes]:
    """Run `destiler` with stderr on a pseudo-terminal `columns` wide; return code, stdout, raw stderr."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    env = {k: v for k, v in destiler.env.items() if k not in ("COLUMNS", "LINES")}
    env["TERM"] = "xterm-256color"
    process = subprocess.Popen(
        destiler.argv(*args),
        cwd=destiler.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=slave,
    )
    os.close(slave)
    raw = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed: every process holding it has exited
            break
        if not chunk:
            break
        raw += chunk
    out, _ = process.communicate(timeout=120)
    os.close(master)
    return process.returncode, out.decode(), raw


def test_on_a_terminal_one_line_is_redrawn_within_the_width_and_removed(destiler: Any, write_job: Any) -> None:
    for columns in (80, 40):
        job = write_job(f"slow{columns}", count=60, provider=SLOW + "\nfailure_rate = 0.1\ngarbage_rate = 0.1")
        code, out, raw = _on_terminal(destiler, columns, "run", str(job))
        assert code == 0, raw
        assert out.startswith(f"slow{columns}: done, 60/60 samples accepted")
        text = raw.decode()
        frames = [re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", f) for f in re.split(r"\r\n|\r|\n", text)]
        shown = [f for f in frames if f.strip()]
        assert shown, text
        assert all(len(f) < columns for f in shown), shown  # never as wide as the terminal: no wrap
        assert all(f.startswith(f"slow{columns} ") and "/60" in f for f in shown), shown
        # One line, redrawn in place: the only newline is the one before the line is erased at the end.
        assert text.count("\n") <= 1, text
        assert text.endswith("\x1b[1A\x1b[2K")  # the line is erased: the result line stands alone
