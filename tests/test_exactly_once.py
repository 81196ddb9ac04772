"""Exactly once under kill -9 (DESIGN §5), with real processes and a real SQLite file."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import time

import pytest


def accepted_now(destiler, job: str) -> int:
    result = destiler("show", job, "--json")
    return int(json.loads(result.stdout)["accepted"]) if result.returncode == 0 else 0


def committed(destiler, job: str) -> int:
    """Samples committed so far, read straight from the SQLite store (no process start-up)."""
    path = destiler.data_dir / "destilation.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path, timeout=10) as db:
        try:
            return int(db.execute("SELECT COUNT(*) FROM samples WHERE job = ?", (job,)).fetchone()[0])
        except sqlite3.OperationalError:  # schema not created yet
            return 0


@pytest.mark.parametrize("processes", [1, 2])
def test_sigkill_at_random_moments_then_resume_gives_every_sample_exactly_once(destiler, write_job, processes) -> None:
    count = 800
    job = write_job(
        "crashy",
        count=count,
        provider="latency_ms = 20\nconcurrency = 4\ngarbage_rate = 0.1",
        extra=f"processes = {processes}",
    )
    rng = random.Random(20261123 + processes)
    kills = 0
    for _ in range(4):
        before = committed(destiler, "crashy")
        process = destiler.start(*(("resume", "crashy") if before else ("run", str(job))))
        deadline = time.monotonic() + 60
        while committed(destiler, "crashy") <= before and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.6))  # somewhere in the middle of claiming, writing, exporting
        if process.poll() is not None:
            break
        process.send_signal(signal.SIGKILL)
        process.wait()
        kills += 1
    assert kills >= 2, "the job finished before it could be killed twice; give it more work"
    final = destiler("resume", "crashy")
    assert final.returncode == 0, final.stderr

    lines = destiler.lines("crashy")
    assert len(lines) == count
    assert len({line["meta"]["task"] for line in lines}) == count
    assert len({line["meta"]["content_hash"] for line in lines}) == count
    assert destiler.json("show", "crashy")["accepted"] == count


def test_a_second_runner_on_the_same_sqlite_store_is_refused(destiler, write_job) -> None:
    job = write_job("busy", count=3000, provider="latency_ms = 100\nconcurrency = 2")
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
