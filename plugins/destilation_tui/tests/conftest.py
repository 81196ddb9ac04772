"""Fixtures of the dashboard's tests: a memory store holding a few jobs, and screen text."""

from __future__ import annotations

import attrs
import pytest

from destilation.domain import Attempt, Circuit, Event, Issue, JobState, ProviderHealth, TaskSeed
from destilation.interfaces import Accept, AttemptTotals, Reject
from destilation.testing import MemoryStore
from destilation.testing.store_contract import sample
from destilation_tui.dashboard import Dashboard

SPEC = {
    "name": "qa",
    "template": "simple",
    "providers": {"teacher": {"kind": "mock", "model": "mock-1", "api_key": "sk-secret-do-not-show"}},
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class HealthyStore(MemoryStore):
    """A memory store that also keeps attempt totals and health rows, as the SQL store does."""

    totals: dict[str, AttemptTotals]
    health: dict[str, list[ProviderHealth]]

    def __init__(self) -> None:
        super().__init__()
        self.totals = {}
        self.health = {}

    async def attempt_totals(self, job: str) -> AttemptTotals | None:
        return self.totals.get(job)

    async def provider_health(self, job: str) -> list[ProviderHealth]:
        return list(self.health.get(job, []))


async def fill(store: MemoryStore) -> MemoryStore:
    """Job `qa` (running, 10 tasks: 4 accepted, 2 rejected, 1 running) and job `old` (done)."""
    await store.open()
    await store.create_job("qa", SPEC, 8)
    await store.set_job_state("qa", JobState.RUNNING)
    topics = ["optics", "tides"]
    await store.add_tasks("qa", [TaskSeed(i, axes={"topic": topics[i % 2]}) for i in range(10)])
    tasks = await store.claim("qa", "w1", 7, 300)
    failed = Attempt(1, "teacher", "mock-1", ok=False, issues=(Issue("json", "not JSON", hint="answer JSON"),))
    batch = [
        Accept(t, Attempt(2, "teacher", "mock-1", ok=True, latency_s=0.25), sample("qa", t.index)) for t in tasks[:4]
    ]
    reasons = (Issue("schema", "missing answer"),)
    batch += [Reject(t, failed, reasons) for t in tasks[4:6]]
    await store.commit("w1", batch)
    await store.create_job("old", {"name": "old"}, 1)
    await store.add_tasks("old", [TaskSeed(0)])
    (task,) = await store.claim("old", "w2", 1, 300)
    await store.commit("w2", [Accept(task, Attempt(1, "teacher", "mock-1", ok=True), sample("old", 0))])
    await store.set_job_state("old", JobState.DONE, "1 sample accepted")
    await store.add_events(
        [
            Event("job_started", "qa", "target 8 samples", at=1000.0),
            Event("provider_error", "qa", "HTTP 500 from teacher", severity="error", provider="teacher", at=1001.0),
            Event("job_done", "old", "1 sample accepted", at=1002.0),
        ]
    )
    return store


@pytest.fixture
async def store() -> MemoryStore:
    return await fill(MemoryStore())


@pytest.fixture
async def healthy() -> HealthyStore:
    store = HealthyStore()
    await fill(store)
    store.totals["qa"] = AttemptTotals(attempts=10, provider_errors=1, invalid=3, cost=0.0125)
    row = ProviderHealth(
        "qa",
        "teacher",
        "w1",
        model="mock-1",
        requests=10,
        successes=9,
        errors={"server": 1},
        latency_p50_s=0.2,
        latency_p95_s=0.5,
        concurrency_limit=8,
        in_flight=3,
        updated_at=5.0,
        last_error="HTTP 500 from teacher",
        prompt_tokens=1000,
        completion_tokens=500,
        cost=0.01,
    )
    other = attrs.evolve(
        row,
        owner="w2",
        requests=5,
        successes=5,
        errors={},
        in_flight=1,
        latency_p95_s=0.9,
        circuit=Circuit.HALF_OPEN,
        updated_at=1.0,
        last_error=None,
    )
    store.health["qa"] = [row, other]
    return store


def screen(dashboard: Dashboard, size: tuple[int, int] = (80, 24)) -> str:
    """What the terminal would show, one string with a line per row."""
    return "\n".join(row.decode().rstrip() for row in dashboard.widget.render(size).text)
