"""`destiler show JOB`: one job's state, counts, providers' health and cost, and where its dataset is."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, require_job
from destilation.domain import JSON, JobRecord, ProviderHealth, TaskState
from destilation.health import format_cost, format_health, health_to_json, merge_health, total_cost
from destilation.interfaces import StateStore

INDENT = " " * 14
"""Where the lines under a `show` heading start: past the right-aligned keys."""


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


async def job_cost(store: StateStore, job: str, merged: list[ProviderHealth]) -> dict[str, JSON]:
    """What the job cost so far: its total, per provider, and where the figures come from.

    From the health rows (`merged`) when there are any; otherwise (a store that keeps none, a
    job run by an older release) from the store's attempt totals, which know only the total;
    a total of None when there is neither.
    """
    if merged:
        return {
            "total": total_cost(merged),
            "by_provider": {row.provider: row.cost for row in merged},
            "source": "providers",
        }
    totals = await store.attempt_totals(job)
    return {"total": totals.cost if totals else None, "by_provider": {}, "source": "attempts" if totals else None}


@click.command()
@click.argument("job")
@json_option
@pass_state
def show(state: CliState, job: str, as_json: bool) -> None:
    """Show JOB's state, counts per task state, providers, cost and dataset folder."""

    async def work(store: StateStore) -> tuple[dict[str, object], list[ProviderHealth]]:
        summary = await job_summary(store, await require_job(store, job), state.app.data_dir)
        merged = merge_health(await store.provider_health(job))
        summary["providers"] = [health_to_json(row) for row in merged]
        summary["cost"] = await job_cost(store, job, merged)
        return summary, merged

    summary, merged = state.with_store(work, job=job)
    if as_json:
        emit_json(summary)
        return
    for key in ("name", "state", "target", "accepted", "rejected", "planned", "message", "created_at", "finished_at"):
        click.echo(f"{key:>12}: {summary[key]}")
    counts = summary["counts"]
    assert isinstance(counts, dict)
    click.echo(f"{'tasks':>12}: " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    _echo_providers(merged)
    cost = summary["cost"]
    assert isinstance(cost, dict)
    click.echo(f"{'cost':>12}: {_cost_line(cost)}")
    click.echo(f"{'dataset':>12}: {summary['dataset']}")


def _echo_providers(merged: list[ProviderHealth]) -> None:
    if not merged:
        click.echo(f"{'providers':>12}: no provider data")
        return
    click.echo(f"{'providers':>12}:")
    now = time.time()
    for row in merged:
        click.echo(INDENT + format_health(row, now=now))
        if row.last_error:
            click.echo(INDENT + f"  last error: {row.last_error}")


def _cost_line(cost: dict[str, object]) -> str:
    total = cost["total"]
    if not isinstance(total, float | int):
        return "unknown (the store keeps no provider data or attempt totals)"
    if cost["source"] == "attempts":
        return f"{format_cost(total)} (from attempts: no provider data)"
    by_provider = cost["by_provider"]
    assert isinstance(by_provider, dict)
    return f"{format_cost(total)} (" + ", ".join(f"{p} {format_cost(c)}" for p, c in by_provider.items()) + ")"
