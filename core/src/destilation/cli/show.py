"""`destiler show JOB`: one job's state, counts and where its dataset is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, require_job
from destilation.domain import JobRecord, TaskState
from destilation.interfaces import StateStore


def _iso(ts: float | None) -> str | None:
    return dt.datetime.fromtimestamp(ts, dt.UTC).isoformat(timespec="seconds") if ts else None


async def job_summary(store: StateStore, record: JobRecord, data_dir: str) -> dict[str, object]:
    counts = await store.counts(record.name)
    return {
        "name": record.name,
        "state": record.state.value,
        "target": record.target,
        "accepted": counts[TaskState.ACCEPTED],
        "rejected": counts[TaskState.REJECTED],
        "counts": {k.value: v for k, v in counts.items()},
        "planned": record.planned,
        "message": record.message,
        "created_at": _iso(record.created_at),
        "updated_at": _iso(record.updated_at),
        "finished_at": _iso(record.finished_at),
        "dataset": str(Path(data_dir) / record.name),
    }


@click.command()
@click.argument("job")
@json_option
@pass_state
def show(state: CliState, job: str, as_json: bool) -> None:
    """Show JOB's state, counts per task state and dataset folder."""

    async def work(store: StateStore) -> dict[str, object]:
        return await job_summary(store, await require_job(store, job), state.app.data_dir)

    summary = state.with_store(work, job=job)
    if as_json:
        emit_json(summary)
        return
    for key in ("name", "state", "target", "accepted", "rejected", "planned", "message", "created_at", "finished_at"):
        click.echo(f"{key:>12}: {summary[key]}")
    counts = summary["counts"]
    assert isinstance(counts, dict)
    click.echo(f"{'tasks':>12}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    click.echo(f"{'dataset':>12}: {summary['dataset']}")
