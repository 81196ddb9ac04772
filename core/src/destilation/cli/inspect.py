"""`destiler inspect JOB/INDEX`: one task with every attempt, its issues and the accepted sample."""

from __future__ import annotations

import json

import attrs
import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state
from destilation.cli.tasks import task_json
from destilation.errors import ConfigError, JobError
from destilation.interfaces import StateStore, TaskDetail


def parse_task_ref(ref: str) -> tuple[str, int]:
    job, sep, index = ref.rpartition("/")
    if not sep or not job or not index.isdigit():
        raise ConfigError("TASK", f"{ref!r} is not a task reference: use JOB/INDEX, e.g. quickstart/17")
    return job, int(index)


@click.command()
@click.argument("task_ref", metavar="TASK")
@json_option
@pass_state
def inspect(state: CliState, task_ref: str, as_json: bool) -> None:
    """Show TASK (JOB/INDEX): its seed, attempts with their issues, and its sample."""
    job, index = parse_task_ref(task_ref)

    async def work(store: StateStore) -> TaskDetail:
        detail = await store.get_task(job, index)
        if detail is None:
            raise JobError(f"no task {task_ref} in the store")
        return detail

    detail = state.with_store(work, job=job)
    data = task_json(detail.task)
    data["attempt_log"] = [attrs.asdict(a) for a in detail.attempts]
    data["sample"] = detail.sample.record() if detail.sample else None
    if as_json:
        emit_json(data)
        return
    task = detail.task
    click.echo(f"task {task.key}: {task.state.value} after {task.attempts} attempt(s); axes {task.seed.axes}")
    for attempt in detail.attempts:
        status = "ok" if attempt.ok else "failed"
        click.echo(
            f"  attempt {attempt.number} on {attempt.provider}/{attempt.model}: {status}, {attempt.latency_s:.2f}s"
        )
        for issue in attempt.issues:
            click.echo(f"    - {issue.as_feedback()}")
    for reason in task.reasons:
        click.echo(f"  rejected: {reason.as_feedback()}")
    if detail.sample is not None:
        click.echo(json.dumps(detail.sample.content, indent=2, ensure_ascii=False))
