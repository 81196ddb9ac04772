"""The control operations: the same writes as `destiler pause/cancel/delete`, refusals in one line."""

from __future__ import annotations

import sys

import pytest

from destilation.domain import JobState
from destilation.interfaces import JobRunning
from destilation.testing import MemoryStore
from destilation_tui import control

pytestmark = pytest.mark.anyio


async def test_every_operation_refuses_a_job_that_is_gone(store: MemoryStore) -> None:
    for operation in (control.pause, control.cancel, control.delete, control.Resumer()):
        with pytest.raises(control.RefusedError, match="no job named 'nope' any more"):
            await operation(store, "nope")


async def test_pause_then_cancel(store: MemoryStore) -> None:
    assert await control.pause(store, "qa") == "qa: paused"
    assert await control.cancel(store, "qa") == "qa: cancelled"
    with pytest.raises(control.RefusedError, match="qa is cancelled: nothing to pause"):
        await control.pause(store, "qa")


async def test_delete_leaves_the_refusal_of_a_live_runner_to_the_store(store: MemoryStore) -> None:
    await store.set_job_state("qa", JobState.PAUSED)
    with pytest.raises(JobRunning):  # tasks still leased with live heartbeats
        await control.delete(store, "qa")

    class Vanishing(MemoryStore):
        async def delete_job(self, name: str) -> bool:
            return False

    vanishing = Vanishing()
    await vanishing.create_job("x", {}, 1)
    with pytest.raises(control.RefusedError, match="no job named 'x' any more"):
        await control.delete(vanishing, "x")


async def test_resume_refuses_a_running_or_finished_job(store: MemoryStore) -> None:
    resume = control.Resumer(env={"DESTILATION_DB": "sqlite:///x.db"})
    for job, state in (("qa", "running"), ("old", "done")):
        with pytest.raises(control.RefusedError, match=f"{job} is {state}: nothing to resume"):
            await resume(store, job)
    assert resume.argv("qa") == [sys.executable, "-m", "destilation", "resume", "qa"]
