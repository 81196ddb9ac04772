"""Builders for transitions and a raw-SQL helper, shared by this distribution's tests."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from destilation import Accept, Attempt, Issue, Reject, Release, Retry, Sample, Task, TaskSeed, Usage
from destilation_sql.store import SqlStore

JOB = "job-a"


def seeds(n: int, start: int = 0) -> list[TaskSeed]:
    return [TaskSeed(i, {"topic": f"t{i}"}) for i in range(start, start + n)]


def attempt(number: int = 1, *, ok: bool = True, provider: str = "mock", error: str | None = None) -> Attempt:
    return Attempt(number, provider, "mock-1", ok, 0.25, Usage(10, 20, 5), 0.001, "stop", (), error)


def sample(task: Task, content_hash: str | None = None, **changes: Any) -> Sample:
    fields: dict[str, Any] = {
        "job": task.job,
        "task_index": task.index,
        "content": {"q": f"question {task.index}", "a": "answer"},
        "content_hash": content_hash or f"hash-{task.index}",
        "template_id": "simple",
        "template_version": "1",
        "provider": "mock",
        "model": "mock-1",
        "attempts": 1,
    }
    fields.update(changes)
    return Sample(**fields)


def accept(task: Task, content_hash: str | None = None, number: int = 1) -> Accept:
    return Accept(task, attempt(number), sample(task, content_hash))


def retry(task: Task, number: int = 1, error: str | None = None) -> Retry:
    return Retry(task, attempt(number, ok=False, error=error))


def reject(task: Task, *codes: str, number: int | None = 1) -> Reject:
    tried = None if number is None else attempt(number, ok=False)
    return Reject(task, tried, tuple(Issue(c, f"failed {c}") for c in codes))


def release(task: Task) -> Release:
    return Release(task)


def sql(store: SqlStore, statement: str, **params: Any) -> list[Any]:
    """Run raw SQL on the store's database (test set-up and inspection), committed."""
    engine = store._engine
    assert engine is not None
    with engine.begin() as conn:
        result = conn.execute(text(statement), params)
        return list(result) if result.returns_rows else []
