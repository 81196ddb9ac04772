"""`destiler pause JOB` and `destiler cancel JOB`: state changes a running engine sees within a second."""

from __future__ import annotations

import click

from destilation.cli.state import CliState, pass_state, require_job
from destilation.domain import JobState
from destilation.errors import JobError
from destilation.interfaces import StateStore

_FINAL = (JobState.DONE, JobState.CANCELLED)


def _steer(state: CliState, job: str, target: JobState, message: str) -> None:
    async def work(store: StateStore) -> None:
        record = await require_job(store, job)
        if record.state in _FINAL:
            raise JobError(f"job {job!r} is already {record.state.value}")
        await store.set_job_state(job, target, message)

    state.with_store(work, job=job)
    click.echo(f"{job}: {target.value}")


@click.command()
@click.argument("job")
@pass_state
def pause(state: CliState, job: str) -> None:
    """Pause JOB; a running engine stops within a second, keeping every accepted sample."""
    _steer(state, job, JobState.PAUSED, "paused by `destiler pause`")


@click.command()
@click.argument("job")
@pass_state
def cancel(state: CliState, job: str) -> None:
    """Cancel JOB for good; accepted samples stay in its dataset."""
    _steer(state, job, JobState.CANCELLED, "cancelled by `destiler cancel`")
