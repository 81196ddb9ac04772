"""Exactly once under kill -9 (DESIGN §5), with real processes and a real SQLite file."""

from __future__ import annotations

import json
import random
import signal
import time


def accepted_now(destiler, job: str) -> int:
    result = destiler("show", job, "--json")
    return int(json.loads(result.stdout)["accepted"]) if result.returncode == 0 else 0


def test_sigkill_at_random_moments_then_resume_gives_every_sample_exactly_once(destiler, write_job) -> None:
    count = 800
    job = write_job("crashy", count=count, provider="latency_ms = 20\nconcurrency = 4\ngarbage_rate = 0.1")
    rng = random.Random(20261123)
    kills = 0
    for _ in range(5):
        started = destiler("show", "crashy").returncode == 0
        process = destiler.start(*(("resume", "crashy") if started else ("run", str(job))))
        time.sleep(rng.uniform(1.0, 2.2))  # past start-up (about 0.7 s), into the work
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
        if accepted_now(destiler, "crashy") >= count:
            break
    assert kills >= 2, "the job finished before it could be killed twice; give it more work"
    final = destiler("resume", "crashy")
    assert final.returncode == 0, final.stderr

    lines = destiler.lines("crashy")
    assert len(lines) == count
    assert len({line["meta"]["task"] for line in lines}) == count
    assert len({line["meta"]["content_hash"] for line in lines}) == count
    assert destiler.json("show", "crashy")["accepted"] == count


def test_a_second_runner_on_the_same_sqlite_store_is_refused(destiler, write_job) -> None:
    job = write_job("busy", count=300, provider="latency_ms = 100\nconcurrency = 2")
    first = destiler.start("run", str(job))
    try:
        deadline = time.monotonic() + 30
        while accepted_now(destiler, "busy") == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        second = destiler("resume", "busy")
    finally:
        first.kill()
        first.wait()
    assert second.returncode != 0
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1, second.stderr
    assert "in use by another destiler run" in lines[0]
