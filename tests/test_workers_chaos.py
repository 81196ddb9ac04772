"""One `destiler run` and three `destiler worker` processes of a PostgreSQL job, killed at random.

kill -9 lands on any of them, the runner included (it is started again with `resume`), and one
worker's database connection is cut from the server side (``pg_terminate_backend``). Task
leases are long (`lease_seconds = 60`), so the job only finishes in time because live members
reap dead ones (`member_timeout_s = 2`) and claim their tasks at once. At the end: exactly
`COUNT` whole, valid, distinct lines, and every task accepted or rejected once in the store.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

COUNT = 500
KILLS = 4
WORKERS = 3


def query(pg_url: str, sql: str, **params: object) -> list[tuple[object, ...]]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.exc import ProgrammingError

    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    except ProgrammingError:  # the schema is not created yet
        return []
    finally:
        engine.dispose()


def with_name(pg_url: str, name: str) -> str:
    """The URL with an application name, so the server can tell this process's connections apart."""
    return f"{pg_url}&application_name={name}" if "?" in pg_url else f"{pg_url}?application_name={name}"


def cut_connections(pg_url: str, application: str) -> int:
    """Terminate the connections of `application` from the server side, once it has one (up to 30 s)."""
    deadline = time.monotonic() + 30
    cut = 0
    while not cut and time.monotonic() < deadline:
        sql = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = :a"
        cut = len(query(pg_url, sql, a=application))
        time.sleep(0.05)
    return cut


def test_a_runner_and_three_workers_killed_at_random_leave_exactly_count_lines(destiler, write_job, pg_url) -> None:
    rng = random.Random(20261202)
    name = "herd"
    job = write_job(
        name,
        count=COUNT,
        provider="latency_ms = 150\nconcurrency = 4\ngarbage_rate = 0.1",
        extra="processes = 1\nlease_seconds = 60\nmember_timeout_s = 2",
    )
    db = ("--db", pg_url)
    path = destiler.data_dir / name / "data.jsonl"

    def worker(number: int) -> subprocess.Popen[str]:
        return destiler.start("worker", "--db", with_name(pg_url, f"w{number}"), name)

    processes = [destiler.start(*db, "run", str(job))]
    deadline = time.monotonic() + 60
    while not query(pg_url, "SELECT 1 FROM jobs WHERE name = :n", n=name) and time.monotonic() < deadline:
        time.sleep(0.1)
    processes += [worker(number) for number in range(1, WORKERS + 1)]
    kills = cut = 0
    try:
        for round_ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.0))
            if round_ == 1:  # the server drops every connection of worker 1 (a network cut, a failover)
                cut = cut_connections(pg_url, "w1")
            victim = rng.randrange(len(processes))
            if processes[victim].poll() is not None:
                continue
            processes[victim].send_signal(signal.SIGKILL)
            processes[victim].wait()
            kills += 1
            processes[victim] = destiler.start(*db, "resume", name) if victim == 0 else worker(victim)
        results = [process.communicate(timeout=240) for process in processes]
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    assert kills >= 2, "the job finished before it could be killed; give it more work"
    assert cut >= 1, "worker 1 had no connection to cut"
    final = processes[0]
    for _ in range(3):  # a runner killed last may have left its roles to the reaper: resume finishes
        if final.returncode == 0:
            break
        final = destiler.start(*db, "resume", name)
        results[0] = final.communicate(timeout=240)
    assert final.returncode == 0, results[0][1]
    for process, (_, err) in zip(processes[1:], results[1:], strict=True):
        assert process.returncode == 0, err

    data = path.read_bytes()
    assert b"\0" not in data and data.endswith(b"\n"), "a NUL byte or a truncated last line"
    tasks = [json.loads(line)["meta"]["task"] for line in data.split(b"\n")[:-1]]
    assert len(tasks) == len(set(tasks)) == COUNT
    # In the store: each accepted task has exactly its one sample, and nothing is left leased.
    states = dict(query(pg_url, "SELECT state, count(*) FROM tasks WHERE job = :n GROUP BY state", n=name))
    assert states.get("accepted") == COUNT and "running" not in states
    per_task = query(
        pg_url, "SELECT idx, count(*) FROM samples WHERE job = :n GROUP BY idx HAVING count(*) > 1", n=name
    )
    assert per_task == []
    orphans = query(
        pg_url,
        "SELECT s.idx FROM samples s JOIN tasks t ON t.job = s.job AND t.idx = s.idx "
        "WHERE s.job = :n AND t.state <> 'accepted'",
        n=name,
    )
    assert orphans == []
    assert sorted(tasks) == sorted(idx for (idx,) in query(pg_url, "SELECT idx FROM samples WHERE job = :n", n=name))
    reaped = query(pg_url, "SELECT message FROM events WHERE job = :n AND kind = 'members_reaped'", n=name)
    assert reaped, "the dead members' tasks were taken over by the reaper, not by lease expiry"
