"""The writes the dashboard makes: the same control operations as `destiler pause/cancel/delete/resume`.

Pause and cancel set the job's state in the store, which a running engine (anywhere) sees within
a second; delete goes through `StateStore.delete_job`, which refuses while a runner is alive.
Resume is not a state change: a paused job's engine has stopped, so resuming starts
`destiler resume JOB` as a detached process on this machine, with this dashboard's store and
data dir.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping

import anyio
import attrs

from destilation.domain import JobState
from destilation.errors import DestilationError
from destilation.interfaces import StateStore

_FINAL = (JobState.DONE, JobState.CANCELLED)
_RUNNABLE = (JobState.PENDING, JobState.PAUSED, JobState.FAILED)
DELETABLE = (JobState.DONE, JobState.CANCELLED, JobState.FAILED, JobState.PAUSED, JobState.PENDING)


class RefusedError(DestilationError):
    """A control operation that does not apply to the job as it stands; the message says why."""


async def _current(store: StateStore, job: str) -> JobState:
    record = await store.get_job(job)
    if record is None:
        raise RefusedError(f"no job named {job!r} any more")
    return record.state


async def pause(store: StateStore, job: str) -> str:
    state = await _current(store, job)
    if state in _FINAL or state is JobState.PAUSED:
        raise RefusedError(f"{job} is {state.value}: nothing to pause")
    await store.set_job_state(job, JobState.PAUSED, "paused from `destiler tui`")
    return f"{job}: paused"


async def cancel(store: StateStore, job: str) -> str:
    state = await _current(store, job)
    if state in _FINAL:
        raise RefusedError(f"job {job!r} is already {state.value}")
    await store.set_job_state(job, JobState.CANCELLED, "cancelled from `destiler tui`")
    return f"{job}: cancelled"


async def delete(store: StateStore, job: str) -> str:
    """Delete the job from the store; its dataset folder stays (as `destiler delete` without --data)."""
    state = await _current(store, job)
    if state not in DELETABLE:
        raise RefusedError(f"{job} is {state.value}: pause or cancel it before deleting")
    if not await store.delete_job(job):
        raise RefusedError(f"no job named {job!r} any more")
    return f"deleted job {job!r} from the store (its dataset folder stays)"


@attrs.frozen
class Resumer:
    """Starts `destiler resume JOB` in the background, in `env` (the dashboard's store and data dir)."""

    env: Mapping[str, str] | None = None

    def argv(self, job: str) -> list[str]:
        return [sys.executable, "-m", "destilation", "resume", job]

    def _start(self, job: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            self.argv(job),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=None if self.env is None else dict(self.env),
            start_new_session=True,  # it keeps running when the dashboard quits
        )

    async def __call__(self, store: StateStore, job: str) -> str:
        state = await _current(store, job)
        if state not in _RUNNABLE:
            raise RefusedError(f"{job} is {state.value}: nothing to resume")
        process = await anyio.to_thread.run_sync(self._start, job)
        return f"{job}: resuming (destiler resume, pid {process.pid})"
