"""A key given as a literal or by the global config is sent, and only sent, on run and on resume.

Every case runs real `destiler` processes against a real HTTP server on 127.0.0.1 that speaks
the OpenAI chat-completions wire format and records each request's `Authorization` header. The
server answers the first few requests and holds the rest until told, so a job is surely still
running when `destiler pause` reaches it. Afterwards the key must be in no file under the data
dir (the SQLite database and its journal included) and in no row of the database.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

KEY = "sk-test-" + uuid.uuid4().hex
"""Unique per test session, so finding it anywhere can only mean it leaked."""
JOB = "keyed"
COUNT = 20
ANSWERED_BEFORE_PAUSE = 6


class RecordingServer:
    """Chat completions on 127.0.0.1: records every `Authorization`, answers `answer_first`, holds the rest."""

    def __init__(self, answer_first: int) -> None:
        self.auth: list[str | None] = []
        self.answer_first = answer_first
        self.gate = threading.Event()
        self._lock = threading.Lock()
        self._served = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                number = server.record(self.headers.get("authorization"))
                if number > server.answer_first:
                    server.gate.wait()
                prompt = json.loads(body)["messages"][-1]["content"]
                content = {
                    "question": f"Question {number} {uuid.uuid4().hex}: {prompt[:60]}?",
                    "answer": f"Answer {number}: a complete answer.",
                }
                reply = json.dumps(
                    {
                        "id": f"c{number}",
                        "object": "chat.completion",
                        "model": "fake/model",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": json.dumps(content)},
                            }
                        ],
                        "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20},
                    }
                ).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(reply)))
                    self.end_headers()
                    self.wfile.write(reply)
                except OSError:  # the client gave up on a held request when the job paused
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def record(self, authorization: str | None) -> int:
        with self._lock:
            self.auth.append(authorization)
            return len(self.auth)

    @property
    def requests(self) -> int:
        with self._lock:
            return len(self.auth)

    def release(self) -> None:
        """Answer every request from now on."""
        self.gate.set()


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    recording = RecordingServer(ANSWERED_BEFORE_PAUSE)
    thread = threading.Thread(target=recording.httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield recording
    finally:
        recording.release()
        recording.httpd.shutdown()
        recording.httpd.server_close()


def provider_table(server: RecordingServer, key: str = KEY) -> str:
    return f'[providers.teacher]\nkind = "openai"\nmodel = "fake/model"\nbase_url = "{server.base_url}"\n' + (
        f'api_key = "{key}"\nconcurrency = 2\n' if key else "concurrency = 2\n"
    )


def job_text(providers: str = "") -> str:
    return (
        f'name = "{JOB}"\ncount = {COUNT}\nprocesses = 1\nmax_attempts = 2\n'
        '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees"]\n' + providers
    )


def wait_until(condition: Any, what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.05)


def run_until_paused(
    destiler: Any, server: RecordingServer, *args: str, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Start `destiler run`, pause it while requests are held, and return what `show` says then."""
    running = destiler.start(*args, env=env)
    try:
        wait_until(lambda: server.requests > ANSWERED_BEFORE_PAUSE, "a held request")
        wait_until(lambda: destiler.json("show", JOB)["accepted"] >= 1, "a first accepted sample")
        paused = destiler("pause", JOB)
        assert paused.returncode == 0, paused.stderr
        _, stderr = running.communicate(timeout=60)
    finally:
        running.kill()
    assert running.returncode == 1, stderr
    assert "paused" in stderr and f"destiler resume {JOB}" in stderr
    shown = destiler.json("show", JOB)
    assert shown["state"] == "paused" and shown["accepted"] < COUNT
    assert KEY not in stderr
    return shown  # type: ignore[no-any-return]


def assert_key_stored_nowhere(data_dir: Path, *outputs: str) -> None:
    files = [p for p in data_dir.rglob("*") if p.is_file()]
    assert any(p.suffix == ".db" for p in files)
    for path in files:  # the database, its -wal and -shm, the dataset, metadata and card
        assert KEY.encode() not in path.read_bytes(), path
    with sqlite3.connect(data_dir / "destilation.db") as db:
        tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        assert "jobs" in tables
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                assert KEY not in repr(row), table
    for output in outputs:
        assert KEY not in output


def test_a_literal_key_is_sent_on_run_and_on_resume_and_stored_nowhere(destiler, server, tmp_path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(job_text(provider_table(server)), encoding="utf-8")
    run_until_paused(destiler, server, "run", str(job))
    server.release()

    resumed = destiler("resume", JOB)
    assert resumed.returncode == 0, resumed.stderr
    assert len(destiler.lines(JOB)) == COUNT
    assert server.requests > COUNT - ANSWERED_BEFORE_PAUSE
    assert set(server.auth) == {f"Bearer {KEY}"}
    stored = destiler.json("show", JOB)
    assert KEY not in json.dumps(stored)
    assert_key_stored_nowhere(destiler.data_dir, resumed.stdout, resumed.stderr)


@pytest.mark.parametrize("found_by", ["--config", "DESTILATION_CONFIG", "the job's record"])
def test_a_key_from_the_global_config_is_sent_on_resume(destiler, server, tmp_path, found_by) -> None:
    config = tmp_path / "conf" / "destilation.toml"
    config.parent.mkdir()
    config.write_text(provider_table(server), encoding="utf-8")
    job = tmp_path / "job.toml"
    job.write_text(job_text(), encoding="utf-8")  # no [providers]: they come from the global config
    run_until_paused(destiler, server, "--config", str(config), "run", str(job))
    server.release()

    if found_by == "--config":
        resumed = destiler("--config", str(config), "resume", JOB)
    elif found_by == "DESTILATION_CONFIG":
        resumed = destiler("resume", JOB, env={"DESTILATION_CONFIG": str(config)})
    else:  # no global config today: the one the job ran with lends its providers again
        resumed = destiler("resume", JOB)
    assert resumed.returncode == 0, resumed.stderr
    assert len(destiler.lines(JOB)) == COUNT
    assert set(server.auth) == {f"Bearer {KEY}"}
    assert_key_stored_nowhere(destiler.data_dir, resumed.stdout, resumed.stderr)


def test_the_same_job_file_moved_elsewhere_continues_with_run(destiler, server, tmp_path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(job_text(provider_table(server)), encoding="utf-8")
    run_until_paused(destiler, server, "run", str(job))
    server.release()
    moved = tmp_path / "elsewhere" / "job.toml"
    moved.parent.mkdir()
    job.rename(moved)

    # Where the job file lives is not part of the job: the same content continues the job.
    again = destiler("run", str(moved))
    assert again.returncode == 0, again.stderr
    assert len(destiler.lines(JOB)) == COUNT
    assert set(server.auth) == {f"Bearer {KEY}"}


def test_a_lent_provider_missing_today_stops_resume_with_one_line(destiler, server, tmp_path) -> None:
    config = tmp_path / "destilation-global.toml"
    config.write_text(provider_table(server), encoding="utf-8")
    job = tmp_path / "job.toml"
    job.write_text(job_text(), encoding="utf-8")
    before = run_until_paused(destiler, server, "--config", str(config), "run", str(job))
    config.unlink()
    sent = server.requests

    resumed = destiler("resume", JOB)
    assert resumed.returncode == 2
    assert resumed.stderr.splitlines() == [
        f"error: job {JOB}: $.providers.teacher came from the global config {config.resolve()} which is gone; "
        "put it back, or pass a global config with [providers.teacher] by --config or $DESTILATION_CONFIG"
    ]
    assert server.requests == sent
    assert destiler.json("show", JOB) == before


def test_resume_after_the_job_file_is_gone_names_the_key_and_sends_nothing(destiler, server, tmp_path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(job_text(provider_table(server)), encoding="utf-8")
    before = run_until_paused(destiler, server, "run", str(job))
    job.unlink()
    server.release()
    sent = server.requests

    resumed = destiler("resume", JOB)
    assert resumed.returncode == 2
    assert resumed.stderr.splitlines() == [
        f"error: job {JOB}: $.providers.teacher.api_key was given in {job.resolve()}, which is gone; "
        'put it back there or write api_key = "${OPENAI_API_KEY}" there and set that variable'
    ]
    assert "Traceback" not in resumed.stderr
    assert server.requests == sent
    assert destiler.json("show", JOB) == before
    assert_key_stored_nowhere(destiler.data_dir, resumed.stdout, resumed.stderr)

    # Following the advice works: the file back with a reference, the variable set.
    job.write_text(job_text(provider_table(server, key="${OPENAI_API_KEY}")), encoding="utf-8")
    resumed = destiler("resume", JOB, env={"OPENAI_API_KEY": KEY})
    assert resumed.returncode == 0, resumed.stderr
    assert len(destiler.lines(JOB)) == COUNT
    assert set(server.auth) == {f"Bearer {KEY}"}
    assert_key_stored_nowhere(destiler.data_dir)


def test_the_environment_key_of_a_reference_is_never_stored(destiler, server, tmp_path) -> None:
    job = tmp_path / "job.toml"
    job.write_text(job_text(provider_table(server, key="${MY_KEY}")), encoding="utf-8")
    run_until_paused(destiler, server, "run", str(job), env={"MY_KEY": KEY})
    server.release()
    missing = destiler("resume", JOB)
    assert missing.returncode == 2
    assert missing.stderr.splitlines() == [
        f"error: job {JOB} (stored spec): $.providers.teacher.api_key: environment variable MY_KEY is not set"
    ]
    resumed = destiler("resume", JOB, env={"MY_KEY": KEY})
    assert resumed.returncode == 0, resumed.stderr
    assert set(server.auth) == {f"Bearer {KEY}"}
    assert_key_stored_nowhere(destiler.data_dir)
