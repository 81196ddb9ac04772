"""The exporter role in-process: one writer per job, takeover when the holder goes, fenced cursor writes.

Real parts: a SQLite store file and the JSONL sink. Two `ExportRole`s with different owners
stand for two processes of one job sharing a data dir.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import anyio
import pytest

from destilation import (
    EXPORTER_ROLE,
    Accept,
    Attempt,
    Event,
    JobRecord,
    PluginContext,
    Sample,
    Sink,
    SinkCursor,
    TaskSeed,
    TaskState,
    Usage,
)
from destilation.engine.exporter import Exporter, ExportRole, RoleLost
from destilation_jsonl.config import JsonlConfig
from destilation_jsonl.sink import JsonlSink
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio

JOB = "job"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqlStore]:
    s = SqlStore(f"sqlite:///{tmp_path / 'state.db'}")
    await s.open()
    record = await s.create_job(JOB, {}, 100)
    assert record.name == JOB
    try:
        yield s
    finally:
        await s.aclose()


async def commit(store: SqlStore, n: int) -> None:
    """Accept `n` new tasks, as a worker would."""
    start = (await store.counts(JOB))[TaskState.ACCEPTED]
    await store.add_tasks(JOB, [TaskSeed(i, {"topic": f"t{i}"}) for i in range(start, start + n)])
    tasks = await store.claim(JOB, "worker", n, 60)
    attempt = Attempt(1, "mock", "m", True, 0.1, Usage(1, 1), 0.0, "stop", (), None)
    batch = [
        Accept(t, attempt, Sample(JOB, t.index, {"q": f"q{t.index}"}, f"h{t.index}", "simple", "1", "mock", "m", 1))
        for t in tasks
    ]
    await store.commit("worker", batch)


def role(store: SqlStore, tmp_path: Path, owner: str, events: list[Event], lease_s: float = 60) -> ExportRole:
    context = PluginContext(data_dir=str(tmp_path / "data"), emit=events.append, http_client=lambda **_: None)
    record = JobRecord(JOB, TaskState.PENDING, 100, {}, 0.0, 0.0)  # type: ignore[arg-type]
    sink = JsonlSink(JsonlConfig(fsync=False), context, record)
    return ExportRole(store, JOB, owner, lease_s, [Exporter(store, JOB, "jsonl", sink)], events.append)


def dataset(tmp_path: Path) -> list[int]:
    text = (tmp_path / "data" / JOB / "data.jsonl").read_text()
    return [json.loads(line)["meta"]["task"] for line in text.splitlines()]


async def test_only_the_holder_writes_and_a_second_process_waits_then_says_who_holds_it(
    store: SqlStore, tmp_path: Path
) -> None:
    events: list[Event] = []
    first, second = role(store, tmp_path, "a", events), role(store, tmp_path, "b", events)
    assert await first.take() and first.held
    assert not await second.take()
    assert (second.held, second.holder) == (False, "a")
    await commit(store, 5)
    assert await first.catch_up()
    assert not await second.catch_up()  # not the holder: writes nothing
    second.offer([])  # nor collects samples for later
    assert dataset(tmp_path) == [0, 1, 2, 3, 4]
    assert await second.settle(0.2) == "the dataset is being written by a, which holds the job's exporter role"

    await first.release()
    await first.release()  # twice is harmless
    await commit(store, 2)
    assert await second.settle(5) == ""  # free now: taken, checked and caught up
    assert dataset(tmp_path) == list(range(7))
    assert [e.kind for e in events] == ["exporter_taken"]
    assert events[0].message == "took over writing the dataset from a"


async def test_a_holder_that_died_is_taken_over_and_stopped_when_it_comes_back(store: SqlStore, tmp_path: Path) -> None:
    events: list[Event] = []
    stalled = role(store, tmp_path, "a", events, lease_s=0.3)
    assert await stalled.take()
    await commit(store, 3)
    assert await stalled.catch_up()

    survivor = role(store, tmp_path, "b", events)
    await commit(store, 3)
    async with anyio.create_task_group() as group:
        group.start_soon(survivor.follow, 0.05, 0.01)
        with anyio.fail_after(10):
            while not survivor.held or dataset(tmp_path) != list(range(6)):
                await anyio.sleep(0.05)
        # The stalled holder wakes up: its lease ran out and was taken, so it writes nothing.
        await commit(store, 1)
        assert not await stalled.catch_up()
        assert not stalled.held
        survivor.offer([])
        with anyio.fail_after(10):
            while dataset(tmp_path) != list(range(7)):
                await anyio.sleep(0.05)
        group.cancel_scope.cancel()
    assert [e.kind for e in events] == ["exporter_taken", "exporter_lost"]
    assert events[1].severity == "warning"
    assert await store.get_cursor(JOB, "jsonl") == survivor.exporters[0].cursor


async def test_a_holder_renews_its_lease_while_it_writes(store: SqlStore, tmp_path: Path) -> None:
    events: list[Event] = []
    holder, other = role(store, tmp_path, "a", events, lease_s=0.3), role(store, tmp_path, "b", events)
    assert await holder.take()
    for _ in range(4):
        await anyio.sleep(0.15)
        await commit(store, 1)
        assert await holder.catch_up()  # renews each time a third of the lease has passed
        assert not await other.take()
    assert dataset(tmp_path) == [0, 1, 2, 3]
    assert events == []


async def test_a_role_is_lost_if_another_process_takes_it_while_the_sinks_open(store: SqlStore, tmp_path: Path) -> None:
    events: list[Event] = []

    class Hijacked(Sink):
        """Opens slowly: meanwhile the role is released and another process takes it."""

        async def open(self, cursor: SinkCursor) -> SinkCursor:
            lease = await store.acquire_role(JOB, EXPORTER_ROLE, "a", 60)
            await store.release_role(JOB, EXPORTER_ROLE, "a", lease.fence)
            assert (await store.acquire_role(JOB, EXPORTER_ROLE, "c", 60)).held_by("c")
            return SinkCursor(1, 10)

        async def write(self, samples: Sequence[Sample]) -> int:
            raise AssertionError("never written")

        async def finalize(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
            raise AssertionError("never finalized")

        async def aclose(self) -> None:
            pass

    hijacked = ExportRole(store, JOB, "a", 60, [Exporter(store, JOB, "x", Hijacked())], events.append)
    assert not await hijacked.take()
    assert not hijacked.held
    assert await hijacked.settle(0) == ("the dataset is being written by c, which holds the job's exporter role")
    record = JobRecord(JOB, TaskState.PENDING, 100, {}, 0.0, 0.0)  # type: ignore[arg-type]
    await hijacked.finalize(record, {})  # not the holder: no side files
    with pytest.raises(RoleLost, match="does not hold the exporter role"):
        await hijacked.keep()
    assert [e.kind for e in events] == ["exporter_lost"]


async def test_an_exporter_without_a_fence_writes_unconditionally(store: SqlStore) -> None:
    written: list[int] = []

    class Plain(Sink):
        """A sink that keeps no digest: the port's default says so with ""."""

        async def open(self, cursor: SinkCursor) -> SinkCursor:
            return cursor

        async def write(self, samples: Sequence[Sample]) -> int:
            written.extend(s.task_index for s in samples)
            return len(written)

        async def finalize(self, job: JobRecord, counts: dict[TaskState, int]) -> None:
            pass

        async def aclose(self) -> None:
            pass

    exporter = Exporter(store, JOB, "plain", Plain())
    await exporter.open()
    await commit(store, 2)
    assert await exporter.catch_up() == 2
    assert written == [0, 1]
    assert await store.get_cursor(JOB, "plain") == SinkCursor(2, 2, "")
