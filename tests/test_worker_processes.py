"""`processes = N`: forked workers share a job through the store, and the output stays exactly once."""

from __future__ import annotations

import http.server
import json
import os
import signal
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from destilation.domain import TaskState
from destilation.engine.forking import START, STOP
from tests.conftest import problem_lines

pytestmark = pytest.mark.slow


def workers_of(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def lease_owners(destiler) -> set[str]:
    """Who holds running tasks right now, straight from the SQLite store."""
    path = destiler.data_dir / "destilation.db"
    if not path.exists():
        return set()
    with sqlite3.connect(path, timeout=10) as db:
        try:
            rows = db.execute("SELECT DISTINCT lease_owner FROM tasks WHERE state = 'running'").fetchall()
        except sqlite3.OperationalError:  # schema not created yet
            return set()
    return {owner for (owner,) in rows if owner}


def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def resume_to_the_end(destiler, job: str, count: int) -> None:
    final = destiler("resume", job)
    assert final.returncode == 0, final.stderr
    assert_exactly_once(destiler, job, count)


def assert_exactly_once(destiler, job: str, count: int) -> None:
    lines = destiler.lines(job)
    assert len(lines) == count
    assert len({line["meta"]["task"] for line in lines}) == count
    assert len({line["meta"]["content_hash"] for line in lines}) == count
    assert destiler.json("show", job)["accepted"] == count


@pytest.fixture
def split_job(write_job):
    def write(name: str, count: int, processes: int = 3, latency_ms: int = 10, extra: str = "") -> Path:
        return write_job(
            name,
            count=count,
            provider=f"latency_ms = {latency_ms}\nconcurrency = 24\ngarbage_rate = 0.1",
            extra=f"processes = {processes}\n{extra}",
        )

    return write


def test_three_processes_share_the_work_and_every_sample_lands_once(destiler, split_job) -> None:
    job = split_job("split", count=1500, latency_ms=20)
    process = destiler.start("run", str(job))
    wait_for(lambda: len(lease_owners(destiler)) == 3)  # the main process and both workers hold tasks
    owners = lease_owners(destiler)
    main = next(o for o in owners if "/w" not in o)
    assert owners == {main, f"{main}/w1", f"{main}/w2"}
    children = workers_of(process.pid)
    assert len(children) == 2
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "split: done, 1500/1500 samples accepted" in out
    assert not any(alive(pid) for pid in children)
    assert_exactly_once(destiler, "split", 1500)


def test_pause_stops_every_process_and_resume_finishes_exactly_once(destiler, split_job) -> None:
    job = split_job("steered", count=2000, latency_ms=50)
    process = destiler.start("run", str(job))
    wait_for(lambda: len(lease_owners(destiler)) == 3)
    children = workers_of(process.pid)
    assert destiler("pause", "steered").returncode == 0
    _, err = process.communicate(timeout=30)
    assert process.returncode == 1
    assert "paused" in err
    assert not any(alive(pid) for pid in children)
    assert lease_owners(destiler) == set()  # every worker's leases were handed back
    assert destiler.json("show", "steered")["accepted"] < 2000

    resume_to_the_end(destiler, "steered", 2000)


def test_when_the_main_process_is_killed_its_workers_exit_and_resume_is_exact(destiler, split_job) -> None:
    job = split_job("orphaned", count=1500, processes=2, latency_ms=30)
    process = destiler.start("run", str(job))
    wait_for(lambda: len(lease_owners(destiler)) == 2)
    children = workers_of(process.pid)
    assert len(children) == 1
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: not alive(children[0]), timeout=10)  # it read end-of-file and left

    resume_to_the_end(destiler, "orphaned", 1500)


def test_a_worker_killed_under_the_job_fails_it_with_one_line_and_resume_finishes(destiler, split_job) -> None:
    job = split_job("wounded", count=1500, processes=2, latency_ms=30)
    process = destiler.start("run", str(job))
    wait_for(lambda: len(lease_owners(destiler)) == 2)
    (child,) = workers_of(process.pid)
    os.kill(child, signal.SIGKILL)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"worker process {child} was killed by SIGKILL" in err
    assert "Traceback" not in err

    resume_to_the_end(destiler, "wounded", 1500)


def test_a_done_job_run_again_with_workers_sends_nothing_and_leaves_no_process(destiler, split_job) -> None:
    job = split_job("again", count=100, processes=2, latency_ms=0)
    assert destiler("run", str(job)).returncode == 0
    again = destiler.start("run", str(job))
    out, _ = again.communicate(timeout=60)
    assert again.returncode == 0
    assert "already done" in out
    assert_exactly_once(destiler, "again", 100)


class RefusingHandler(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server whose every answer is 401: the key is wrong, retrying cannot help."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        body = b'{"error": {"message": "invalid api key"}}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def test_a_provider_that_refuses_the_key_fails_the_split_job_with_one_line(destiler, tmp_path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        job = tmp_path / "refused.toml"
        job.write_text(
            'name = "refused"\ncount = 200\nprocesses = 2\n[providers.api]\nkind = "openai"\nmodel = "m"\n'
            f'concurrency = 8\nbase_url = "http://127.0.0.1:{server.server_address[1]}/v1"\n',
            encoding="utf-8",
        )
        result = destiler("run", str(job), env={"OPENAI_API_KEY": "sk-test"})
    finally:
        server.shutdown()
        server.server_close()
    assert result.returncode == 1
    assert "refused: failed, 0/200 samples accepted" in result.stderr
    assert "HTTP 401" in result.stderr
    assert "invalid api key" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(problem_lines(result.stderr)) == 1


@pytest.mark.anyio
async def test_a_worker_whose_provider_cannot_go_on_says_so_and_exits(tmp_path) -> None:
    """The forked worker's side, run in this process: told to start, it works, says why it stopped, ends."""
    import socket
    from contextlib import AsyncExitStack

    import anyio
    from anyio.abc import SocketStream

    from destilation.app import make_app
    from destilation.config import load_job
    from destilation.domain import JobState
    from destilation.engine.forking import START, work
    from destilation.plugins import make_plugin_manager

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), RefusingHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    path = tmp_path / "refused.toml"
    path.write_text(
        'name = "refused"\ncount = 10\n[providers.api]\nkind = "openai"\nmodel = "m"\nconcurrency = 2\n'
        f'api_key = "sk-test"\nbase_url = "http://127.0.0.1:{server.server_address[1]}/v1"\n',
        encoding="utf-8",
    )
    app = make_app(make_plugin_manager(), config=None, db=f"sqlite:///{tmp_path / 'state.db'}", data_dir=str(tmp_path))
    loaded = load_job(path, app.settings)
    prepared = app.prepare(loaded.spec, str(path))
    async with AsyncExitStack() as stack:  # what the main process does before it starts a worker
        store = await app.open_store(stack)
        await store.create_job("refused", loaded.raw, 10)
        await store.add_tasks("refused", list(prepared.wiring.planner.seeds(0, 10)))
        await store.set_job_state("refused", JobState.RUNNING, "running")

    ours, theirs = socket.socketpair()
    ours.sendall(START)
    link = await SocketStream.from_socket(ours)
    try:
        with anyio.fail_after(30):
            code = await work(prepared, 2, "main/w1", theirs)
            said = await link.receive()
    finally:
        server.shutdown()
        server.server_close()
        await link.aclose()
    assert code == 0
    assert "HTTP 401" in said.decode()
    assert said.endswith(b"\n")


@pytest.mark.anyio
@pytest.mark.parametrize("words", [b"", START + STOP])
async def test_a_forked_worker_ends_when_the_main_process_ends_first_or_stops_it(tmp_path, write_job, words) -> None:
    """The forked worker's side, in this process: never started, it returns at once; stopped, it leaves."""
    import socket
    from contextlib import AsyncExitStack

    import anyio

    from destilation.app import make_app
    from destilation.config import load_job
    from destilation.domain import JobState
    from destilation.engine.forking import work
    from destilation.plugins import make_plugin_manager

    path = write_job("stopped", count=50, provider="latency_ms = 50\nconcurrency = 4")
    app = make_app(make_plugin_manager(), config=None, db=f"sqlite:///{tmp_path / 'state.db'}", data_dir=str(tmp_path))
    loaded = load_job(path, app.settings)
    prepared = app.prepare(loaded.spec, str(path))
    async with AsyncExitStack() as stack:
        store = await app.open_store(stack)
        await store.create_job("stopped", loaded.raw, 50)
        await store.add_tasks("stopped", list(prepared.wiring.planner.seeds(0, 50)))
        await store.set_job_state("stopped", JobState.RUNNING, "running")

    ours, theirs = socket.socketpair()
    if words:
        ours.sendall(words)
    else:
        ours.close()
    with anyio.fail_after(30):
        assert await work(prepared, 2, "main/w1", theirs) == 0
    if words:
        ours.close()
    async with AsyncExitStack() as stack:
        store = await app.open_store(stack)
        counts = await store.counts("stopped")
        assert counts[TaskState.RUNNING] == 0  # every lease it took went back
        assert await store.members("stopped") == []


@pytest.mark.anyio
async def test_a_worker_never_creates_the_job_it_is_to_work(tmp_path, write_job) -> None:
    from contextlib import AsyncExitStack

    from destilation.app import make_app
    from destilation.config import load_job
    from destilation.engine.service import open_worker_runner
    from destilation.errors import JobError
    from destilation.plugins import make_plugin_manager

    path = write_job("absent", count=5)
    app = make_app(make_plugin_manager(), config=None, db=f"sqlite:///{tmp_path / 'state.db'}", data_dir=str(tmp_path))
    prepared = app.prepare(load_job(path, app.settings).spec, str(path))
    async with AsyncExitStack() as stack:
        await app.open_store(stack)  # the store exists, the job does not
    async with AsyncExitStack() as stack:
        with pytest.raises(JobError, match="no job named 'absent'"):
            await open_worker_runner(stack, prepared, "main/w1")
        assert await prepared.store.list_jobs() == []


@pytest.mark.postgres
def test_workers_share_a_postgresql_job_and_a_kill_9_loses_and_repeats_nothing(destiler, split_job, pg_url) -> None:
    # PostgreSQL may be shared by runners on other machines, so a dead runner's leases are only
    # taken over once they expire: short leases keep the resume quick.
    job = split_job("shared", count=1500, processes=3, latency_ms=20, extra="lease_seconds = 2")
    process = destiler.start("--db", pg_url, "run", str(job))
    wait_for(lambda: destiler.lines_if_any("shared") >= 200)
    children = workers_of(process.pid)
    assert len(children) == 2
    process.send_signal(signal.SIGKILL)
    process.wait()
    wait_for(lambda: not any(alive(pid) for pid in children), timeout=10)

    final = destiler("--db", pg_url, "resume", "shared")
    assert final.returncode == 0, final.stderr
    lines = destiler.lines("shared")
    assert len(lines) == 1500
    assert len({line["meta"]["task"] for line in lines}) == 1500
    assert len({line["meta"]["content_hash"] for line in lines}) == 1500
    shown = destiler("--db", pg_url, "show", "shared", "--json")
    assert json.loads(shown.stdout)["accepted"] == 1500
