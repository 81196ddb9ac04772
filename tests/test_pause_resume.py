"""Steering a running job from a second terminal: pause stops it, resume finishes it, nothing lost."""

from __future__ import annotations

import json
import signal
import time


def wait_for_accepted(destiler, job: str, at_least: int, timeout: float = 60) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = destiler("show", job, "--json")
        if result.returncode == 0:
            accepted = json.loads(result.stdout)["accepted"]
            if accepted >= at_least:
                return int(accepted)
        time.sleep(0.1)
    raise AssertionError(f"{job} did not reach {at_least} accepted samples")


def test_pause_from_another_process_then_resume_completes_without_duplicates(destiler, write_job) -> None:
    # 150 samples at 2 x 120 ms: nine seconds of work, so the pause lands well inside the job (it
    # is seen within 0.25 s) and the resume has a few seconds of it left to finish.
    job = write_job("steered", count=150, provider="latency_ms = 120\nconcurrency = 2")
    running = destiler.start("run", str(job))
    try:
        wait_for_accepted(destiler, "steered", 20)
        assert destiler("pause", "steered").returncode == 0
        paused_at = time.monotonic()
        _, stderr = running.communicate(timeout=30)
        stopped_after = time.monotonic() - paused_at
    finally:
        running.kill()
    print(f"run stopped {stopped_after:.2f}s after `destiler pause`")
    assert running.returncode == 1
    assert "paused" in stderr and "destiler resume steered" in stderr
    shown = destiler.json("show", "steered")
    assert shown["state"] == "paused"
    assert 0 < shown["accepted"] < 150
    assert len(destiler.lines("steered")) == shown["accepted"]

    resumed = destiler("resume", "steered")
    assert resumed.returncode == 0, resumed.stderr
    lines = destiler.lines("steered")
    assert len(lines) == 150
    assert len({line["meta"]["task"] for line in lines}) == 150


def test_cancel_stops_a_job_for_good(destiler, write_job) -> None:
    job = write_job("cancelled", count=2000, provider="latency_ms = 100\nconcurrency = 2")
    running = destiler.start("run", str(job))
    try:
        wait_for_accepted(destiler, "cancelled", 5)
        assert destiler("cancel", "cancelled").returncode == 0
        running.communicate(timeout=30)
    finally:
        running.kill()
    assert running.returncode == 1
    assert destiler.json("show", "cancelled")["state"] == "cancelled"
    again = destiler("resume", "cancelled")
    assert again.returncode == 1
    assert "cancelled" in again.stderr
    assert destiler("pause", "cancelled").returncode == 1


def test_ctrl_c_pauses_cleanly_and_resume_finishes(destiler, write_job) -> None:
    # Five seconds of work: SIGINT comes after the fifth sample, well before the end.
    job = write_job("interrupted", count=80, provider="latency_ms = 120\nconcurrency = 2")
    running = destiler.start("run", str(job))
    try:
        wait_for_accepted(destiler, "interrupted", 5)
        running.send_signal(signal.SIGINT)
        _, stderr = running.communicate(timeout=30)
    finally:
        running.kill()
    assert running.returncode == 1
    assert "Traceback" not in stderr
    assert "interrupted by SIGINT" in stderr
    shown = destiler.json("show", "interrupted")
    assert shown["state"] == "paused"
    assert len(destiler.lines("interrupted")) == shown["accepted"]
    assert destiler("resume", "interrupted").returncode == 0
    assert len(destiler.lines("interrupted")) == 80
