"""`destiler inspect JOB/INDEX`: one task with every attempt, its issues and the accepted sample.

The text output is for people: values print as text or JSON, never as Python reprs.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import attrs
import click

from destilation.cli.state import CliState, emit_json, json_option, pass_state, require_job
from destilation.cli.tasks import STORE_INT_MAX, task_json
from destilation.domain import JSON, Attempt, Message
from destilation.errors import ConfigError, UnknownJobError
from destilation.interfaces import StateStore, TaskDetail


def parse_task_ref(ref: str) -> tuple[str, int]:
    job, sep, index = ref.rpartition("/")
    if not sep or not job or not index.isascii() or not index.isdigit():
        raise ConfigError("TASK", f"{ref!r} is not a task reference: use JOB/INDEX, e.g. quickstart/17")
    if int(index) > STORE_INT_MAX:
        raise ConfigError("TASK", f"{ref!r}: the task index must be between 0 and {STORE_INT_MAX}")
    return job, int(index)


def show_value(value: JSON) -> str:
    """A value as a person reads it: a one-line string as it is, anything else as JSON."""
    if isinstance(value, str) and value.isprintable():
        return value
    return json.dumps(value, ensure_ascii=False)


def show_fields(fields: Mapping[str, JSON]) -> str:
    return ", ".join(f"{name} = {show_value(value)}" for name, value in fields.items())


def indented(text: str, depth: int = 6) -> str:
    pad = " " * depth
    return "\n".join(pad + line for line in (text.splitlines() or [""]))


def last_turns(messages: tuple[Message, ...]) -> tuple[Message, ...]:
    """The messages from the last user turn on: what an attempt asked anew (the feedback lives there)."""
    users = [i for i, m in enumerate(messages) if m.role == "user"]
    return messages[users[-1] :] if users else messages


def attempt_lines(attempt: Attempt, full: bool) -> list[str]:
    """One attempt as people read it: numbers, verdict, then the prompt and raw answer when kept."""
    status = "ok" if attempt.ok else "failed"
    on = f"{attempt.provider}/{attempt.model}" if attempt.model else attempt.provider
    usage = attempt.usage
    cost = "" if attempt.cost is None else f", ${attempt.cost:.6f}"
    lines = [
        f"  attempt {attempt.number} on {on}: {status}, {attempt.latency_s:.2f}s,"
        f" {usage.prompt_tokens}+{usage.completion_tokens} tokens{cost}"
    ]
    if attempt.error:
        lines.append(f"    - error: {attempt.error}")
    lines.extend(f"    - {issue.as_feedback()}" for issue in attempt.issues)
    payload = attempt.payload
    if payload is None:
        return lines
    lines.extend(f"    feedback given: {issue.as_feedback()}" for issue in payload.feedback)
    shown = payload.prompt if full else last_turns(payload.prompt)
    lines.append(
        "    prompt:" if full or len(shown) == len(payload.prompt) else "    prompt (last turns; --full for all):"
    )
    for message in shown:
        lines.append(f"      [{message.role}]")
        lines.append(indented(message.content, 8))
    if payload.reasoning:
        lines.append("    reasoning:")
        lines.append(indented(payload.reasoning))
    lines.append("    response:")
    lines.append(indented(payload.response))
    return lines


@click.command()
@click.argument("task_ref", metavar="TASK")
@click.option("--full", is_flag=True, help="Show every message of each attempt's prompt, not only the last turns.")
@json_option
@pass_state
def inspect(state: CliState, task_ref: str, full: bool, as_json: bool) -> None:
    """Show TASK (JOB/INDEX): its seed, attempts with their prompts, answers and issues, and its sample.

    Prompts and answers are there for attempts the job kept (`keep_attempts`).
    """
    job, index = parse_task_ref(task_ref)

    async def work(store: StateStore) -> TaskDetail:
        detail = await store.get_task(job, index)
        if detail is None:
            record = await require_job(store, job)
            known = f"its tasks are {job}/0 to {job}/{record.planned - 1}" if record.planned else "it has no tasks yet"
            raise UnknownJobError(f"job {job!r} has no task {index}: {known}")
        return detail

    detail = state.with_store(work, job=job)
    data = task_json(detail.task)
    data["attempt_log"] = [attrs.asdict(a) for a in detail.attempts]
    data["sample"] = detail.sample.record() if detail.sample else None
    if as_json:
        emit_json(data)
        return
    task, seed = detail.task, detail.task.seed
    plural = "" if task.attempts == 1 else "s"
    click.echo(f"task {task.key}: {task.state.value} after {task.attempts} attempt{plural}")
    if seed.row is not None:
        click.echo(f"  input: {show_fields(seed.row)}")
    if seed.axes:
        click.echo(f"  axes: {show_fields(seed.axes)}")
    for attempt in detail.attempts:
        for line in attempt_lines(attempt, full):
            click.echo(line)
    for reason in task.reasons:
        click.echo(f"  rejected: {reason.as_feedback()}")
    if detail.sample is not None:
        click.echo("  sample:")
        click.echo(json.dumps(detail.sample.content, indent=2, ensure_ascii=False))
