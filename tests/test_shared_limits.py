"""Three `destiler run` processes of one job on PostgreSQL against one fake OpenAI-compatible server.

The server logs when each chat request arrived. With `requests_per_minute` set, no 60-second
window of that log holds more than the limit, though each process alone would send the whole
limit at once: the processes share it. And a `Retry-After` the server gives one process holds
the other two as well, within a second.
"""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Destiler
from tests.test_providers_failover import KEY, fake_openai

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

PROCESSES = 3
RPM = 30
COUNT = 300
"""More than the test lets the job do: each process alone would send 30 at once and 30 a minute
after; the run is stopped once requests of a second minute arrived."""
STOP_AFTER_S = 150.0
"""Start-up included: on a busy machine a process takes a while to start, and one that joins after
another sent waits a whole minute first, so the limit may be reached only in the second minute."""
RETRY_AFTER_S = 2
SPREAD_S = 1.0
"""What one process is told reaches the others within this: nothing arrives after it until the hold ends."""


class LoggedServer(fake_openai.FakeOpenAI):  # type: ignore[misc, name-defined]
    """The fake server, logging each chat request's arrival; request `refuse_at` gets a 429 with Retry-After."""

    def __init__(self, *, refuse_at: int = 0, **knobs: Any) -> None:
        super().__init__(**knobs)
        self.refuse_at = refuse_at
        self.log: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    def chat(self, headers: Any, raw: bytes) -> tuple[Any, float]:
        with self._lock:
            number = len(self.log) + 1
            refused = number == self.refuse_at
            self.log.append((time.monotonic(), 429 if refused else 200))
        if refused:
            return fake_openai._error(429, "slow down", {"Retry-After": str(RETRY_AFTER_S)}), 0.0
        return super().chat(headers, raw)  # type: ignore[no-any-return]


def job_file(tmp_path: Path, name: str, base_url: str, provider: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ncount = {COUNT if "requests_per_minute" in provider else 150}\nseed = 5\nprocesses = 1\n'
        '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees"]\n'
        f'[providers.teacher]\nkind = "openai"\nmodel = "fake/model"\nbase_url = "{base_url}"\n{provider}\n',
        encoding="utf-8",
    )
    return path


def run_together(destiler: Destiler, pg_url: str, job: Path, timeout: float, until: Any = None) -> None:
    """Start the processes at once and wait for all; each must end the job done (exit 0).

    `until()` true, or `timeout` passed, they are interrupted instead (and pause the job)."""
    env = {"OPENAI_API_KEY": KEY}
    processes = [destiler.start("--db", pg_url, "run", str(job), env=env) for _ in range(PROCESSES)]
    try:
        if until is not None:
            deadline = time.monotonic() + timeout
            while not until() and time.monotonic() < deadline:
                time.sleep(0.2)
            for process in processes:
                process.send_signal(signal.SIGINT)
        ended = [process.communicate(timeout=timeout if until is None else 30) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    if until is None:
        for process, (_out, err) in zip(processes, ended, strict=True):
            assert process.returncode == 0, err


def most_in_a_minute(times: list[float]) -> int:
    return max(sum(1 for at in times if start <= at < start + 60.0) for start in times)


def test_three_processes_never_send_more_than_requests_per_minute_together(
    destiler: Destiler, pg_url: str, tmp_path: Path
) -> None:
    server = LoggedServer()

    def second_minute() -> bool:
        return bool(server.log) and server.log[-1][0] - server.log[0][0] > 61.0

    def challenged() -> bool:  # the limit was put to the test: more requests than a minute allows
        return second_minute() and len(server.log) > RPM

    with fake_openai.start_fake_openai(server) as base_url:
        job = job_file(tmp_path, "sharedrpm", base_url, f"requests_per_minute = {RPM}\nconcurrency = 4")
        run_together(destiler, pg_url, job, timeout=STOP_AFTER_S, until=challenged)
    times = [at for at, _ in server.log]
    assert second_minute(), f"no request came a minute after the first: {len(times)} requests in all"
    assert len(times) > RPM, "the processes had more to send than a minute allows"
    assert most_in_a_minute(times) <= RPM


def test_a_retry_after_one_process_got_holds_the_others_too(destiler: Destiler, pg_url: str, tmp_path: Path) -> None:
    server = LoggedServer(refuse_at=40, latency_ms=40)
    with fake_openai.start_fake_openai(server) as base_url:
        run_together(destiler, pg_url, job_file(tmp_path, "sharedhold", base_url, "concurrency = 2"), timeout=110)
    assert len(destiler.lines("sharedhold")) == 150
    (refused,) = [at for at, status in server.log if status == 429]
    during = [at - refused for at, _ in server.log if refused + SPREAD_S < at < refused + RETRY_AFTER_S - 0.05]
    assert during == [], "requests arrived while another process's Retry-After ran"
    assert any(refused - 1.0 < at < refused for at, _ in server.log), "the processes were sending before it"
    assert any(at > refused + RETRY_AFTER_S for at, _ in server.log), "and they went on after it"
