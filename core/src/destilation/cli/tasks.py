"""`destiler tasks JOB`: a job's tasks, optionally by state, with the reasons rejected ones failed."""

from __future__ import annotations

import attrs
import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, require_job, table
from destilation.domain import Task, TaskState
from destilation.interfaces import StateStore

STORE_INT_MAX = 2**63 - 1
"""The largest integer a store keeps (SQLite's and PostgreSQL's BIGINT): task indexes, limits and offsets."""


def task_json(task: Task) -> dict[str, object]:
    return {
        "task": task.key,
        "index": task.index,
        "state": task.state.value,
        "attempts": task.attempts,
        "axes": task.seed.axes,
        "input": task.seed.row,
        "reasons": [attrs.asdict(r) for r in task.reasons],
    }


@click.command()
@click.argument("job")
@click.option("--state", "wanted", type=click.Choice([s.value for s in TaskState]), help="Only tasks in this state.")
@click.option(
    "--limit",
    default=50,
    show_default=True,
    type=click.IntRange(1, STORE_INT_MAX),
    help=f"At most this many tasks (1 to {STORE_INT_MAX}).",
)
@click.option(
    "--offset",
    default=0,
    type=click.IntRange(0, STORE_INT_MAX),
    help=f"Skip this many tasks first (0 to {STORE_INT_MAX}).",
)
@json_option
@pass_state
def tasks(state: CliState, job: str, wanted: str | None, limit: int, offset: int, as_json: bool) -> None:
    """List JOB's tasks; rejected ones show why."""

    async def work(store: StateStore) -> list[Task]:
        await require_job(store, job)
        return await store.list_tasks(job, TaskState(wanted) if wanted else None, limit, offset)

    found = state.with_store(work, job=job)
    if as_json:
        emit_json([task_json(t) for t in found])
        return
    if not found:
        click.echo(f"no {wanted + ' ' if wanted else ''}tasks in {job}")
        return
    rows = []
    for task in found:
        reason = task.reasons[0].as_feedback() if task.reasons else ""
        if len(task.reasons) > 1:
            reason += f" (+{len(task.reasons) - 1} more)"
        rows.append((task.key, task.state.value, task.attempts, reason))
    table(rows, ("TASK", "STATE", "ATTEMPTS", "REASON"))
