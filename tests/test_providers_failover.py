"""Jobs across real OpenAI-compatible servers on 127.0.0.1 that fail: the call policy, failover, pause and abort.

These hold for any correct call policy: they count what reaches the store and the dataset, never
how often a policy retried.
"""

from __future__ import annotations

import importlib.util
import json
import random
import socket
import sqlite3
import sys
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import anyio
import pytest

from destilation import Circuit, Event, JobState, hookimpl
from destilation.app import App
from destilation.config import Settings, load_job
from destilation.engine.runner import RunOutcome
from destilation.plugins import make_plugin_manager
from destilation.testing import TestingKit
from tests.conftest import problem_lines


def _load_fake() -> ModuleType:
    """The fake OpenAI server beside the OpenRouter provider's tests, imported by its path."""
    path = Path(__file__).resolve().parents[1] / "destilation_openrouter" / "tests" / "fake_openai.py"
    spec = importlib.util.spec_from_file_location("fake_openai", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("fake_openai", module)
    spec.loader.exec_module(module)
    return module


fake_openai = _load_fake()
KEY = "sk-engine-0123456789abcdef0123"


class FaultyOpenAI(fake_openai.FakeOpenAI):  # type: ignore[misc, name-defined]
    """The fake server with injected faults: a share of 429s (Retry-After 1) and of 500s, or always `status`."""

    def __init__(self, *, rate_limited: float = 0.0, broken: float = 0.0, status: int = 0, seed: int = 0) -> None:
        super().__init__()
        self.rate_limited, self.broken, self.status = rate_limited, broken, status
        self.rng = random.Random(seed)
        self.statuses: list[int] = []

    def chat(self, headers: Any, raw: bytes) -> tuple[Any, float]:
        roll = self.rng.random()
        if self.status:  # echoes the credential it got, as careless servers do: it must be masked everywhere
            self.statuses.append(self.status)
            body = f"invalid api key: {headers.get('Authorization', '')}"
            return fake_openai._error(self.status, body), 0.0
        if roll < self.rate_limited:
            self.statuses.append(429)
            return fake_openai._error(429, "slow down", {"Retry-After": "1"}), 0.0
        if roll < self.rate_limited + self.broken:
            self.statuses.append(500)
            return fake_openai._error(500, "internal error"), 0.0
        self.statuses.append(200)
        return super().chat(headers, raw)  # type: ignore[no-any-return]


def closed_port() -> int:
    """A port nothing listens on: connecting is refused (until a test starts a server there)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def url(port: int) -> str:
    return f"http://127.0.0.1:{port}/v1"


def job_file(tmp_path: Path, name: str, count: int, endpoints: dict[str, str], extra: str = "") -> Path:
    providers = "".join(
        f'[providers.{p}]\nkind = "openai"\nmodel = "fake/model"\nbase_url = "{u}"\nconcurrency = 4\n'
        for p, u in endpoints.items()
    )
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'name = "{name}"\ncount = {count}\nmax_attempts = 1\nseed = 5\n{extra}\n'
        '[axes]\ntopic = ["tides", "volcanoes", "sorting", "taxes", "bees"]\n' + providers,
        encoding="utf-8",
    )
    return path


class Collector:
    """Every event of the run, as subscribers get them."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    @hookimpl
    def register_subscribers(self, register: Any) -> None:
        register("collector", lambda context: self.events.append)


def make_app(tmp_path: Path, *plugins: object, store: str = "") -> App:
    return App(
        make_plugin_manager(extra=plugins),
        Settings(data_dir=str(tmp_path)),
        store or f"sqlite:///{tmp_path / 'state.db'}",
        str(tmp_path),
    )


async def run(app: App, job: Path) -> RunOutcome:
    loaded = load_job(job)
    return await app.run(loaded.spec, loaded.raw, str(job), resume=False, handle_signals=False)


def dataset(tmp_path: Path, job: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (tmp_path / job / "data.jsonl").read_text().splitlines()]


def attempts(tmp_path: Path) -> list[tuple[int, int, bool, str, str | None]]:
    """Every stored attempt: (task, number, ok, issues, error), read from the SQLite file as any tool could."""
    with sqlite3.connect(tmp_path / "state.db") as db:
        rows = db.execute("SELECT idx, number, ok, coalesce(issues, ''), error FROM attempts").fetchall()
    return [(idx, number, bool(ok), issues, error) for idx, number, ok, issues, error in rows]


@pytest.fixture(autouse=True)
def key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", KEY)


@pytest.mark.anyio
async def test_429s_and_500s_on_two_endpoints_never_use_an_attempt(tmp_path: Path) -> None:
    one, two = FaultyOpenAI(rate_limited=0.2, broken=0.05, seed=1), FaultyOpenAI(rate_limited=0.2, broken=0.05, seed=2)
    with fake_openai.start_fake_openai(one) as first, fake_openai.start_fake_openai(two) as second:
        job = job_file(tmp_path, "faults", 16, {"a": first, "b": second})
        outcome = await run(make_app(tmp_path), job)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.DONE, 16, 0)
    assert 429 in one.statuses + two.statuses, "the servers must have refused some requests"
    # Each task was answered at its first and only attempt; no attempt records a provider failure.
    stored = attempts(tmp_path)
    assert len(stored) == 16 and {(number, ok, error) for _, number, ok, _, error in stored} == {(1, True, None)}
    assert not [issues for *_, issues, _ in stored if "provider_error" in issues]
    assert {line["meta"]["attempts"] for line in dataset(tmp_path, "faults")} == {1}


@pytest.mark.anyio
async def test_an_endpoint_down_for_the_whole_run_fails_over_and_the_job_completes(tmp_path: Path) -> None:
    kit, collector = TestingKit(), Collector()
    live = FaultyOpenAI()
    with fake_openai.start_fake_openai(live) as up:
        job = job_file(tmp_path, "half", 12, {"down": url(closed_port()), "up": up})
        outcome = await run(make_app(tmp_path, kit, collector, store="memory://"), job)
    assert (outcome.state, outcome.accepted, outcome.rejected) == (JobState.DONE, 12, 0)
    assert {line["meta"]["provider"] for line in dataset(tmp_path, "half")} == {"up"}
    assert {line["meta"]["attempts"] for line in dataset(tmp_path, "half")} == {1}
    moved = [e for e in collector.events if e.kind == "provider_failover"]
    assert moved and {e.provider for e in moved} == {"down"}
    assert all(e.severity == "info" and "moved from down to up" in e.message for e in moved)
    # The health rows written during and after the run say who answered and who failed.
    health = {row.provider: row for row in await kit.store("memory://").provider_health("half")}
    assert health["down"].successes == 0 and sum(health["down"].errors.values()) > 0
    assert health["down"].circuit is Circuit.OPEN and health["up"].circuit is Circuit.CLOSED
    assert health["up"].successes >= 12


@pytest.mark.anyio
async def test_without_failover_a_task_waits_for_its_own_provider(tmp_path: Path) -> None:
    collector = Collector()
    late, port = FaultyOpenAI(), closed_port()
    live = FaultyOpenAI()
    with fake_openai.start_fake_openai(live) as up:
        job = job_file(tmp_path, "pinned", 8, {"late": url(port), "up": up}, "[routing]\nfailover = false\n")
        async with anyio.create_task_group() as group:
            outcome: list[RunOutcome] = []

            async def work() -> None:
                outcome.append(await run(make_app(tmp_path, collector), job))

            group.start_soon(work)
            with anyio.fail_after(30):  # the job is under way, and `late`'s policy gave a task up: it waits
                while not [e for e in collector.events if e.kind == "provider_wait"]:
                    await anyio.sleep(0.02)
            with fake_openai.start_fake_openai(late, port=port):
                with anyio.fail_after(60):
                    while not outcome:
                        await anyio.sleep(0.05)
    assert (outcome[0].state, outcome[0].accepted) == (JobState.DONE, 8)
    assert {line["meta"]["provider"] for line in dataset(tmp_path, "pinned")} == {"late", "up"}
    assert not [e for e in collector.events if e.kind == "provider_failover"]
    waits = [e for e in collector.events if e.kind == "provider_wait"]
    assert {e.provider for e in waits} == {"late"}
    assert len(waits) == len({e.task_index for e in waits}), "one event per waiting task, not one per retry"


def job_row(tmp_path: Path, job: str) -> tuple[str, str]:
    with sqlite3.connect(tmp_path / "state.db") as db:
        return db.execute("SELECT state, message FROM jobs WHERE name = ?", (job,)).fetchone()  # type: ignore[no-any-return]


@pytest.mark.anyio
async def test_with_every_endpoint_down_the_job_pauses_then_resumes_when_one_comes_up(tmp_path: Path) -> None:
    collector = Collector()
    ports = {"a": closed_port(), "b": closed_port()}
    job = job_file(tmp_path, "dark", 6, {name: url(port) for name, port in ports.items()})
    outcome: list[RunOutcome] = []
    async with anyio.create_task_group() as group:

        async def work() -> None:
            outcome.append(await run(make_app(tmp_path, collector), job))

        group.start_soon(work)
        with anyio.fail_after(30):
            while not any(e.kind == "job_held" for e in collector.events):
                await anyio.sleep(0.02)
        state, message = job_row(tmp_path, "dark")
        assert state == "paused"
        assert message.startswith("every provider is unavailable: a: ") and "; b: " in message
        assert not outcome, "a pause for want of providers keeps the runner probing"
        with fake_openai.start_fake_openai(FaultyOpenAI(), port=ports["b"]):
            with anyio.fail_after(60):
                while not outcome:
                    await anyio.sleep(0.05)
    assert (outcome[0].state, outcome[0].accepted, outcome[0].rejected) == (JobState.DONE, 6, 0)
    assert job_row(tmp_path, "dark")[0] == "done"
    assert {line["meta"]["provider"] for line in dataset(tmp_path, "dark")} == {"b"}
    assert any(e.kind == "job_resumed" for e in collector.events)


@pytest.mark.slow
def test_an_invalid_key_stops_the_job_with_one_line_and_the_key_appears_nowhere(destiler: Any, tmp_path: Path) -> None:
    refusing = FaultyOpenAI(status=401)
    with fake_openai.start_fake_openai(refusing) as base_url:
        job = job_file(tmp_path, "badkey", 40, {"api": base_url})
        started = time.monotonic()
        result = destiler("run", str(job), env={"OPENAI_API_KEY": KEY})
    assert result.returncode == 1
    assert time.monotonic() - started < 60
    (line,) = problem_lines(result.stderr)
    assert line.startswith("badkey: failed, 0/40 samples accepted: provider 'api' stopped the job: ")
    assert "401" in line
    assert len(refusing.statuses) <= 12, "the job must stop within a few requests"
    shown = destiler.json("show", "badkey")
    assert shown["state"] == "failed" and shown["message"].startswith("provider 'api' stopped the job")
    # Not in what it printed, nor in any file it wrote: the store (its events too), the dataset, its card.
    written = [p for p in destiler.workdir.rglob("*") if p.is_file() and p != job]
    assert any(p.suffix == ".db" for p in written)
    seen = [result.stdout.encode(), result.stderr.encode(), json.dumps(shown).encode()]
    seen += [p.read_bytes() for p in written]
    assert not [text for text in seen if KEY.encode() in text or KEY[3:15].encode() in text]


@pytest.mark.slow
def test_resume_tells_the_run_that_holds_a_job_waiting_for_providers_to_work_again(
    destiler: Any, tmp_path: Path
) -> None:
    doomed = tmp_path / "doomed.toml"  # a job that failed, in the same store
    doomed.write_text('name = "doomed"\ncount = 1\nmax_tasks = 1\n[providers.t]\nkind = "mock"\ngarbage_rate = 1.0\n')
    assert destiler("run", str(doomed)).returncode == 1
    port = closed_port()
    job = job_file(tmp_path, "waiting", 4, {"api": url(port)})
    running = destiler.start("run", str(job))
    try:
        shown = wait_for_state(destiler, "waiting", "paused")
        assert shown["message"].startswith("every provider is unavailable: api: ")
        # Another job of the store cannot run beside it on SQLite, and is not told to: one line, exit 2.
        refused = destiler("resume", "doomed")
        assert refused.returncode == 2 and "is in use by another destiler run" in refused.stderr
        for _ in range(50):  # the run may be trying its provider again this instant: then resume has nothing to do
            resumed = destiler("resume", "waiting")
            if resumed.returncode == 0:
                break
            assert "is in use by another destiler run" in resumed.stderr
        assert resumed.returncode == 0, resumed.stderr
        assert resumed.stdout == "waiting: running again in the run that holds it, which was waiting for a provider\n"
        with fake_openai.start_fake_openai(FaultyOpenAI(), port=port):
            out, err = running.communicate(timeout=60)
    finally:
        running.kill()
        running.wait()
    assert running.returncode == 0, err
    assert out.startswith("waiting: done, 4/4 samples accepted")


def wait_for_state(destiler: Any, job: str, state: str) -> dict[str, Any]:
    """`destiler show JOB --json` until the job is in `state` (the run creates it first)."""
    deadline = time.monotonic() + 30
    while True:
        looked = destiler("show", job, "--json")
        shown: dict[str, Any] = json.loads(looked.stdout) if looked.returncode == 0 else {}
        if shown.get("state") == state:
            return shown
        assert time.monotonic() < deadline, looked.stderr or shown
        time.sleep(0.1)


@pytest.mark.slow
def test_a_job_split_over_processes_pauses_and_resumes_as_one(destiler: Any, tmp_path: Path) -> None:
    port = closed_port()
    job = job_file(tmp_path, "split", 64, {"api": url(port)}, "processes = 2")
    running = destiler.start("run", str(job))
    try:
        shown = wait_for_state(destiler, "split", "paused")
        assert shown["message"].startswith("every provider is unavailable: api: ")
        live = FaultyOpenAI()
        with fake_openai.start_fake_openai(live, port=port):
            out, err = running.communicate(timeout=60)
    finally:
        running.kill()
        running.wait()
    assert running.returncode == 0, err
    assert out.startswith("split: done, 64/64 samples accepted")
    lines = (destiler.data_dir / "split" / "data.jsonl").read_text().splitlines()
    assert len(lines) == 64 and len({json.loads(line)["meta"]["task"] for line in lines}) == 64
