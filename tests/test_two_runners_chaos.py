"""Two runners of one job on PostgreSQL share a data dir; kill -9 either at random: the dataset stays exact.

Each round starts two `destiler run` processes of a fresh job, kills one of them at a random
moment and starts it again, a few times, while the other keeps working;
then it resumes until the job is done. Only one process may write ``data.jsonl`` at any moment
(the exporter role, a lease in the store): without it, a process that (re)opens the file cuts
it back while the other is still appending, which once left the first 10 367 bytes NUL.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROUNDS = 8
"""Enough to catch a defect that shows in one round of four with 90 % certainty (0.75**8 < 0.1)."""
COUNT = 600
KILLS = 3
"""Kills per round, each followed by a restart of the killed process."""


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh schema of the test PostgreSQL server (through search_path), dropped afterwards."""
    from sqlalchemy import create_engine
    from sqlalchemy.engine import make_url

    base = os.environ.get("DESTILATION_TEST_DATABASE_URL")
    if not base:
        pytest.skip("DESTILATION_TEST_DATABASE_URL is not set: PostgreSQL tests skipped")
    schema = f"t_{uuid.uuid4().hex[:16]}"
    url = make_url(base).set(drivername="postgresql+psycopg")
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield url.update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def committed(pg_url: str, job: str) -> int:
    """Samples committed so far, straight from the store (no process start-up)."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM samples WHERE job = :j"), {"j": job}).scalar_one())
    except ProgrammingError:  # the schema is not created yet
        return 0
    finally:
        engine.dispose()


def wait_until(condition, processes: list[subprocess.Popen[str]], timeout: float = 60.0) -> None:
    """Until `condition()` holds or every process has ended."""
    deadline = time.monotonic() + timeout
    while not condition() and any(p.poll() is None for p in processes):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def assert_exact(path: Path, count: int) -> None:
    data = path.read_bytes()
    nul = data.find(b"\0")
    assert nul < 0, f"a NUL byte at {nul} of {len(data)}"
    assert data.endswith(b"\n"), "the last line is truncated"
    lines = data.split(b"\n")[:-1]
    records = [json.loads(line) for line in lines]  # every line is whole, valid JSON
    tasks = [record["meta"]["task"] for record in records]
    assert len(records) == count
    assert len(set(tasks)) == count, "a task appears more than once"


def run_round(destiler, write_job, pg_url: str, rng: random.Random, number: int) -> int:
    """One round; returns how many kills landed on a running process."""
    name = f"chaos{number}"
    job = write_job(
        name, count=COUNT, provider="latency_ms = 30\nconcurrency = 4\ngarbage_rate = 0.1", extra="lease_seconds = 2"
    )
    db = ("--db", pg_url)
    processes = [destiler.start(*db, "run", str(job))]
    time.sleep(rng.uniform(0.0, 0.8))
    processes.append(destiler.start(*db, "run", str(job)))
    kills = 0
    try:
        for _ in range(KILLS):
            # Any moment: starting up, opening the dataset, committing, exporting, finishing.
            time.sleep(rng.uniform(0.2, 1.5))
            victim = rng.randrange(len(processes))
            if processes[victim].poll() is not None:
                continue
            processes[victim].send_signal(signal.SIGKILL)
            processes[victim].wait()
            kills += 1
            # `run` of the same file continues the job, and creates it should both die before it exists.
            processes[victim] = destiler.start(*db, "run", str(job))
        for process in processes:
            process.communicate(timeout=120)
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    final = destiler(*db, "run", str(job))
    for _ in range(3):  # a killed process's leases run out within lease_seconds
        if final.returncode == 0:
            break
        final = destiler(*db, "resume", name)
    assert final.returncode == 0, final.stderr
    assert_exact(destiler.data_dir / name / "data.jsonl", COUNT)
    return kills


def test_two_runners_killed_at_random_leave_exactly_count_lines(destiler, write_job, pg_url) -> None:
    rng = random.Random(20261201)
    kills = sum(run_round(destiler, write_job, pg_url, rng, number) for number in range(ROUNDS))
    assert kills >= ROUNDS, "the jobs finished before they could be killed; give them more work"
