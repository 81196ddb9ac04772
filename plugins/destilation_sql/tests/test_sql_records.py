"""Samples in commit order, sink cursors and events."""

from __future__ import annotations

import pytest
from sql_helpers import JOB, accept, seeds

from destilation import Event, SinkCursor
from destilation_sql.store import SqlStore

pytestmark = pytest.mark.anyio


async def test_samples_after_pages_in_commit_order(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 5)
    await store.add_tasks(JOB, seeds(5))
    tasks = await store.claim(JOB, "w", 5, 60)
    # Commit order differs from index order: seq follows the commits.
    await store.commit("w", [accept(tasks[3]), accept(tasks[1])])
    await store.commit("w", [accept(tasks[0])])
    everything = await store.samples_after(JOB, 0, 100)
    assert [s.task_index for s in everything] == [3, 1, 0]
    first, second, third = (s.seq for s in everything)
    assert first is not None
    assert second is not None
    assert [s.task_index for s in await store.samples_after(JOB, first, 1)] == [1]
    assert [s.task_index for s in await store.samples_after(JOB, second, 10)] == [0]
    assert await store.samples_after(JOB, third or 0, 10) == []
    assert await store.samples_after("other-job", 0, 10) == []


async def test_has_content_hash_is_per_job(store: SqlStore) -> None:
    await store.create_job(JOB, {}, 1)
    await store.add_tasks(JOB, seeds(1))
    [t] = await store.claim(JOB, "w", 1, 60)
    assert not await store.has_content_hash(JOB, "abc")
    await store.commit("w", [accept(t, "abc")])
    assert await store.has_content_hash(JOB, "abc")
    assert not await store.has_content_hash("other-job", "abc")


async def test_cursors_default_to_zero_and_keep_the_last_value(store: SqlStore) -> None:
    assert await store.get_cursor(JOB, "jsonl") == SinkCursor()
    await store.set_cursor(JOB, "jsonl", SinkCursor(3, 120))
    await store.set_cursor(JOB, "jsonl", SinkCursor(7, 400))
    await store.set_cursor(JOB, "parquet", SinkCursor(1, 10))
    assert await store.get_cursor(JOB, "jsonl") == SinkCursor(7, 400)
    assert await store.get_cursor(JOB, "parquet") == SinkCursor(1, 10)
    assert await store.get_cursor("other-job", "jsonl") == SinkCursor()


async def test_events_come_back_newest_last_filtered_and_limited(store: SqlStore) -> None:
    await store.add_events([])
    await store.add_events(
        [
            Event("job.started", "a", "go", at=100.0),
            Event("provider.error", "b", "HTTP 503", "error", "teacher", 4, {"status": 503, "retry": True}, at=101.0),
        ]
    )
    await store.add_events([Event("task.rejected", "a", task_index=7, at=102.0)])

    everything = await store.list_events()
    assert [e.kind for e in everything] == ["job.started", "provider.error", "task.rejected"]
    assert everything[1] == Event(
        "provider.error", "b", "HTTP 503", "error", "teacher", 4, {"status": 503, "retry": True}, 101.0
    )
    assert [e.kind for e in await store.list_events("a")] == ["job.started", "task.rejected"]
    assert [e.kind for e in await store.list_events(limit=2)] == ["provider.error", "task.rejected"]
    assert [e.kind for e in await store.list_events("a", limit=1)] == ["task.rejected"]


async def test_an_event_without_a_time_gets_the_time_it_was_stored(store: SqlStore) -> None:
    await store.add_events([Event("note", JOB)])
    [stored] = await store.list_events(JOB)
    assert stored.at > 0
