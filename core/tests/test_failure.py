"""A run's failure becomes one line, and is recorded where the store can take it."""

from __future__ import annotations

from typing import Any, cast

import pytest

from destilation.domain import JobState
from destilation.engine.failure import describe_failure, first_cause, record_failure
from destilation.errors import PluginError
from destilation.interfaces import StateStore, StoreError


def test_first_cause_digs_through_exception_groups() -> None:
    inner = PluginError("jsonl sink: cannot write x")
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [inner, ValueError("later")])])
    assert first_cause(nested) is inner
    assert first_cause(inner) is inner


@pytest.mark.parametrize(
    ("error", "line"),
    [
        (
            PluginError("jsonl sink: cannot write x: No space left on device"),
            "jsonl sink: cannot write x: No space left on device",
        ),
        (OSError(28, "No space left on device", "/data/x.jsonl"), "/data/x.jsonl: No space left on device"),
        (OSError("gone"), "gone"),
        (
            RuntimeError("two\nlines"),
            "unexpected RuntimeError: two lines (a bug in destilation or one of its plugins)",
        ),
        (
            ExceptionGroup("g", [StoreError("sqlite:///x.db: database or disk is full")]),
            "sqlite:///x.db: database or disk is full",
        ),
    ],
)
def test_a_failure_is_described_in_one_line(error: BaseException, line: str) -> None:
    assert describe_failure(error) == line


class Store:
    """Just the store methods recording a failure uses; each `broken_*` makes one raise."""

    def __init__(self, broken_release: Exception | None = None, broken_state: Exception | None = None) -> None:
        self.broken_release = broken_release
        self.broken_state = broken_state
        self.calls: list[tuple[Any, ...]] = []

    async def release_all(self, job: str, owner: str) -> None:
        if self.broken_release is not None:
            raise self.broken_release
        self.calls.append(("release_all", job, owner))

    async def set_job_state(self, job: str, state: JobState, message: str | None = None) -> None:
        if self.broken_state is not None:
            raise self.broken_state
        self.calls.append(("set_job_state", job, state, message))


@pytest.mark.anyio
async def test_a_failure_gives_the_leases_back_and_marks_the_job_failed() -> None:
    store = Store()
    line = await record_failure(cast(StateStore, store), "j", ["a", "b"], "it broke", mark=True)
    assert line == "it broke"
    assert store.calls == [
        ("release_all", "j", "a"),
        ("release_all", "j", "b"),
        ("set_job_state", "j", JobState.FAILED, "it broke"),
    ]
    worker = Store()
    assert await record_failure(cast(StateStore, worker), "j", ["w"], "it broke", mark=False) == "it broke"
    assert worker.calls == [("release_all", "j", "w")]


@pytest.mark.anyio
async def test_leases_that_cannot_be_given_back_do_not_keep_the_job_from_being_marked() -> None:
    store = Store(broken_release=StoreError("busy"))
    assert await record_failure(cast(StateStore, store), "j", ["a"], "it broke", mark=True) == "it broke"
    assert store.calls == [("set_job_state", "j", JobState.FAILED, "it broke")]


@pytest.mark.anyio
async def test_a_store_that_cannot_record_the_failure_is_named_in_the_line() -> None:
    full = "sqlite:///x.db: database or disk is full"
    line = await record_failure(cast(StateStore, Store(broken_state=StoreError(full))), "j", ["a"], full, mark=True)
    assert line == (
        f"{full}; the store could not record the failure either, so it may still show the job as running: "
        "`destiler resume j` continues once the cause is fixed"
    )
    store = Store(broken_state=StoreError(full))
    line = await record_failure(cast(StateStore, store), "j", ["a"], "jsonl sink: x", mark=True)
    assert line.startswith(f"jsonl sink: x; the store could not record the failure ({full}), so it may still show")
