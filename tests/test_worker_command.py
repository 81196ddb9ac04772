"""`destiler worker` and `destiler workers` as real processes beside a `destiler run` of the same store."""

from __future__ import annotations

import json
import signal
import subprocess
import time

import pytest

pytestmark = pytest.mark.slow


def members(destiler, *args: str) -> list[dict[str, object]]:
    result = destiler("workers", *args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_a_worker_of_a_store_or_job_that_does_not_exist_says_so_in_one_line(destiler, write_job) -> None:
    nothing = destiler("worker", "ghost")
    assert nothing.returncode == 2 and nothing.stderr.count("\n") == 1
    assert "does not exist yet" in nothing.stderr
    job = write_job("real", count=2)
    assert destiler("run", str(job)).returncode == 0
    ghost = destiler("worker", "real", "ghost", "gone")
    assert ghost.returncode == 2
    assert ghost.stderr.startswith("error: no job named 'ghost', 'gone' in sqlite:///")
    assert destiler("workers").stdout == "no process is working a job\n"
    assert destiler("workers", "real").stdout == "no process is working 'real'\n"
    assert members(destiler, "real") == []


def test_a_worker_shares_a_job_with_its_run_and_lists_itself(destiler, write_job) -> None:
    job = write_job("shared", count=240, provider="latency_ms = 200\nconcurrency = 2", extra="processes = 1")
    run = destiler.start("run", str(job))
    seen: set[str] = set()
    listing: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not destiler.lines_if_any("shared") and time.monotonic() < deadline:
            time.sleep(0.05)
        db = f"sqlite:///{destiler.data_dir / 'destilation.db'}"
        worker = destiler.start("worker", "--db", db, "shared", env={"PYTHONUNBUFFERED": "1"})
        assert worker.stdout is not None
        said = [worker.stdout.readline(), worker.stdout.readline()]
        assert said == [f"worker serving shared of {db}\n", "shared: working\n"]
        while run.poll() is None and seen != {"runner", "worker"} and time.monotonic() < deadline:
            listing = destiler("workers", "shared").stdout.splitlines()
            seen = {line.split()[1] for line in listing[1:]}
            time.sleep(0.1)
        found = members(destiler, "shared")  # the job may have ended since: then nobody is left
        assert all(m["host"] and int(str(m["pid"])) > 0 and m["kind"] in seen for m in found)
        _, run_err = run.communicate(timeout=120)
        _, worker_err = worker.communicate(timeout=60)
    finally:
        for process in (run, worker):
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert run.returncode == 0, run_err
    assert seen == {"runner", "worker"}, "both processes were listed while they worked"
    assert listing[0].split() == [
        "JOB",
        "KIND",
        "HOST",
        "PID",
        "IN",
        "FLIGHT",
        "SAMPLES/S",
        "LAST",
        "BEAT",
        "OWNER",
    ]
    assert worker.returncode == 0, worker_err
    lines = destiler.lines("shared")
    assert len({line["meta"]["task"] for line in lines}) == len(lines) == 240
    assert members(destiler) == [], "each process left when it ended"


def test_sigterm_stops_a_worker_and_the_job_goes_on_without_it(destiler, write_job) -> None:
    job = write_job("goes-on", count=240, provider="latency_ms = 200\nconcurrency = 2", extra="processes = 1")
    run = destiler.start("run", str(job))
    worker: subprocess.Popen[str] | None = None
    try:
        deadline = time.monotonic() + 60
        while not destiler.lines_if_any("goes-on") and time.monotonic() < deadline:
            time.sleep(0.05)
        worker = destiler.start("worker", env={"PYTHONUNBUFFERED": "1"})  # every running job
        assert worker.stdout is not None
        assert worker.stdout.readline().startswith("worker serving every running job of sqlite:///")
        assert worker.stdout.readline() == "goes-on: working\n"
        time.sleep(1.0)  # it claims and works tasks meanwhile
        worker.send_signal(signal.SIGTERM)
        worker_out, _ = worker.communicate(timeout=30)
        assert worker.returncode == 0
        assert "goes-on: stopped working (paused: worker stopped by SIGTERM)" in worker_out
        _, run_err = run.communicate(timeout=120)
    finally:
        for process in (run, worker):
            if process is not None and process.poll() is None:
                process.kill()
                process.communicate()
    assert run.returncode == 0, run_err
    assert len(destiler.lines("goes-on")) == 240
