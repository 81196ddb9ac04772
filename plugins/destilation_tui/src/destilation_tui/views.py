"""The six views, each a function from what the store said (and what the person chose) to lines.

Views build plain `urwid.Text` lines; the selected row is marked with `>` as well as highlighted,
so every view reads the same without colour (NO_COLOR).
"""

from __future__ import annotations

import json
import textwrap
from collections import Counter
from collections.abc import Sequence
from typing import Any

import attrs
import urwid

from destilation.domain import JSON, Event, JobState, Task, TaskState
from destilation.redaction import redact_text, redact_url, redact_value
from destilation_tui.health import provider_lines
from destilation_tui.rates import Throughput, sparkline
from destilation_tui.snapshot import TASK_PAGE, JobView, Snapshot, WorkerRow
from destilation_tui.text import bar, clip, clock, per_second, percent, seconds

NO_WORKERS = "no data (no job's tasks in view)"


@attrs.frozen
class EventFilter:
    """Which events the log shows; None lets every value through."""

    job: str | None = None
    provider: str | None = None
    severity: str | None = None

    def admits(self, event: Event) -> bool:
        return (
            (self.job is None or event.job == self.job)
            and (self.provider is None or event.provider == self.provider)
            and (self.severity is None or event.severity == self.severity)
        )

    def describe(self) -> str:
        return " ".join(f"{k}={v or 'any'}" for k, v in attrs.asdict(self).items())

    @classmethod
    def parse(cls, text: str) -> EventFilter:
        """`job=NAME provider=NAME severity=LEVEL` (any of them, any order); raises ValueError."""
        values: dict[str, str | None] = {}
        for word in text.split():
            key, sep, value = word.partition("=")
            if not sep or key not in ("job", "provider", "severity"):
                raise ValueError(f"{word!r}: write job=NAME, provider=NAME or severity=LEVEL")
            values[key] = None if value in ("", "any") else value
        return cls(**values)


@attrs.frozen
class Page:
    """A view's lines and which of them holds the selection (kept in sight when scrolling)."""

    lines: list[urwid.Widget]
    focus: int = 0


@attrs.frozen
class Context:
    """What the views read besides the snapshot: choices and facts of this dashboard session."""

    snapshot: Snapshot
    throughput: Throughput
    job: str | None = None
    job_cursor: int = 0
    task_cursor: int = 0
    task_state: TaskState | None = None
    task_offset: int = 0
    detail: int = 0
    events: EventFilter = EventFilter()
    store_url: str = ""
    data_dir: str = ""
    plugins: Sequence[str] = ()

    @property
    def focused(self) -> JobView | None:
        return self.snapshot.job(self.job)


def line(text: Any = "", attr: str | None = None) -> urwid.Text:
    """One unwrapped line (`text` is urwid markup), in `attr` when given."""
    if isinstance(text, str):
        text = text.replace("\n", " ")  # one line is one row: the window counts on it
    return urwid.Text(text if attr is None else (attr, text), wrap="clip")


def wrapped(text: str, attr: str | None = None, *, indent: str = "  ") -> list[urwid.Widget]:
    """A long text as several one-row lines of at most 78 characters, continuations indented."""
    rows = textwrap.wrap(" ".join(text.split()), 78, initial_indent=indent, subsequent_indent=indent + "    ")
    return [line(r, attr) for r in rows or [indent]]


def heading(text: str) -> urwid.Text:
    return line(text, "title")


def row(selected: bool, text: str) -> urwid.Text:
    return line(("> " if selected else "  ") + text, "selected" if selected else None)


def provider_errors(job: JobView) -> tuple[int, int]:
    """(provider errors, provider requests) of the job.

    The call policies count them in the health rows (a provider failure is not an attempt); runs
    from before the call policy recorded them as failed attempts, which are added in.
    """
    old = job.totals.provider_errors if job.totals is not None else 0
    errors = sum(sum(row.errors.values()) for row in job.health)
    return errors + old, sum(row.requests for row in job.health) + old


def _rates(job: JobView) -> tuple[str, str]:
    """(pass rate of the attempts, error rate of the provider requests); from task outcomes without totals."""
    totals = job.totals
    errors, requests = provider_errors(job)
    error_rate = percent(errors, requests) if requests else "-"
    if totals is None or not totals.attempts:
        return percent(job.accepted, job.finished), error_rate
    passed = totals.attempts - totals.provider_errors - totals.invalid
    return percent(passed, totals.attempts), error_rate


def no_job(ctx: Context) -> urwid.Widget:
    if ctx.job is not None:
        return line(f"  no job named {ctx.job!r} in this store yet")
    return line("  no job selected: pick one on the dashboard (Tab, arrows, Enter)")


def no_jobs() -> list[urwid.Widget]:
    return [line("  no jobs in this store yet: start one with `destiler run JOB.toml`")]


# --- dashboard ------------------------------------------------------------------------------


def dashboard(ctx: Context) -> Page:
    snap = ctx.snapshot
    lines: list[urwid.Widget] = [heading("Jobs")]
    lines.append(line(f"  {'JOB':<16} {'STATE':<9} {'PROGRESS':<18} {'SAMPLES/S':>9} {'PASS':>5} {'ERRORS':>6}", "dim"))
    focus = 0
    if not snap.jobs:
        lines += no_jobs()
    for i, job in enumerate(snap.jobs):
        target = job.record.target
        progress = f"{bar(job.accepted, target, 10)} {percent(job.accepted, target):>4}"
        passed, errors = _rates(job)
        rate = per_second(ctx.throughput.rate(job.name, snap.at))
        text = f"{clip(job.name, 16):<16} {job.record.state.value:<9} {progress:<18} {rate:>9} {passed:>5} {errors:>6}"
        if ctx.detail:
            text += f"  {job.accepted}/{target}"
        if i == ctx.job_cursor:
            focus = len(lines)
        lines.append(row(i == ctx.job_cursor, text))
    history = ctx.throughput.history(snap.at, 60)
    lines += [line(), heading(f"Throughput, all jobs, last 5 min (peak {max(history):.1f} samples/s)")]
    lines.append(line("  " + sparkline(history)))
    lines += [line(), *health_lines(ctx.focused)]
    return Page(lines, focus)


def health_lines(job: JobView | None) -> list[urwid.Widget]:
    out: list[urwid.Widget] = [heading(f"Provider health ({job.name if job else 'no job selected'})")]
    providers = provider_lines(job.health) if job else []
    if not providers:
        out.append(line("  no data (no provider health recorded for this job)"))
        return out
    out.append(
        line(
            f"  {'PROVIDER':<14} {'MODEL':<16} {'REQ':>6} {'ERR':>4} {'P50':>6} {'P95':>6} {'FLIGHT':>7} CIRCUIT", "dim"
        )
    )
    for p in providers:
        flight = f"{p.in_flight}/{p.concurrency_limit}"
        err = "-" if p.error_rate is None else f"{100 * p.error_rate:.0f}%"
        out.append(
            line(
                f"  {clip(p.provider, 14):<14} {clip(p.model, 16):<16} {p.requests:>6} {err:>4} "
                f"{seconds(p.latency_p50_s):>6} {seconds(p.latency_p95_s):>6} {flight:>7} {p.circuit.value}",
                "bad" if p.circuit.value != "closed" else None,
            )
        )
        if p.last_error:
            out.append(line(f"    last error: {clip(redact_text(p.last_error), 70)}", "dim"))
    return out


# --- job detail -----------------------------------------------------------------------------


def _providers(spec: dict[str, JSON]) -> list[str]:
    """`name (kind, model)` of each provider the job names; never its options (keys live there)."""
    providers = spec.get("providers")
    if not isinstance(providers, dict) or not providers:
        return ["(the global config's)"]
    out = []
    for name, table in providers.items():
        table = table if isinstance(table, dict) else {}
        facts = [str(table[k]) for k in ("kind", "model") if isinstance(table.get(k), str)]
        out.append(f"{name} ({', '.join(facts)})" if facts else str(name))
    return out


def job_detail(ctx: Context) -> Page:
    job = ctx.focused
    if job is None:
        return Page([heading("Job"), no_job(ctx)])
    record = job.record
    title = f"Job {record.name}: {record.state.value}"
    lines: list[urwid.Widget] = [heading(title)]
    if record.message and record.message != record.state.value:  # "running" says nothing new
        lines.append(line(f"  {clip(redact_text(record.message), 76)}", "dim"))
    lines.append(
        line(
            f"  progress {bar(job.accepted, record.target, 30)} {job.accepted}/{record.target} accepted"
            f" ({percent(job.accepted, record.target)})"
        )
    )
    planned = max(record.planned, sum(job.counts.values()))
    lines.append(line(f"  planned {planned} tasks"))
    for state in TaskState:
        count = job.counts.get(state, 0)
        lines.append(line(f"  {state.value:<9} {bar(count, planned, 30)} {count}"))
    spec = record.spec
    lines.append(line(f"  template {spec.get('template', 'simple')} · providers {', '.join(_providers(spec))}"))
    lines += cost_lines(job)
    lines += [line(), *provider_breakdown(job), line(), *axis_lines(ctx, job)]
    return Page(lines)


def provider_breakdown(job: JobView) -> list[urwid.Widget]:
    """Requests, successes, tokens and cost per provider and model, from the health rows."""
    out: list[urwid.Widget] = [heading("By provider and model")]
    providers = provider_lines(job.health)
    if not providers:
        out.append(line("  no data (no provider health recorded for this job)"))
    for p in providers:
        name = clip(f"{p.provider} ({p.model})" if p.model else p.provider, 30)
        tokens = f"{p.prompt_tokens + p.completion_tokens} tokens"
        out.append(line(f"  {name:<30} {p.requests:>6} req {p.successes:>6} ok {tokens:>14}  ${p.cost:.4f}"))
    return out


def cost_lines(job: JobView) -> list[urwid.Widget]:
    totals = job.totals
    if totals is None:
        return [line("  attempts, errors and cost: no data (the store keeps no attempt totals)")]
    return [
        line(
            f"  attempts {totals.attempts} · invalid {totals.invalid} · provider errors {provider_errors(job)[0]}"
            f" · cost ${totals.cost:.4f} (no budget)"
        )
    ]


def axis_lines(ctx: Context, job: JobView) -> list[urwid.Widget]:
    """Accepted/total per axis value, over the page of tasks read (the whole table is never read)."""
    tasks = ctx.snapshot.tasks
    title = f"By axis value (over {len(tasks)} tasks from #{ctx.task_offset}; tasks view pages through them)"
    out: list[urwid.Widget] = [heading(title)]
    seen: dict[tuple[str, str], list[int]] = {}
    for task in tasks:
        for axis, value in task.seed.axes.items():
            tally = seen.setdefault((axis, value), [0, 0])
            tally[0] += 1
            tally[1] += task.state is TaskState.ACCEPTED
    if not seen:
        out.append(line("  no data (these tasks have no axis values)"))
    for (axis, value), (total, accepted) in sorted(seen.items()):
        out.append(line(f"  {clip(f'{axis} = {value}', 44):<44} {total:>5} tasks {accepted:>5} accepted"))
    return out


# --- tasks and workers ----------------------------------------------------------------------


def failure_reasons(tasks: Sequence[Task]) -> list[tuple[str, int]]:
    reasons: Counter[str] = Counter()
    for task in tasks:
        for issue in task.reasons:
            reasons[f"[{issue.code}] {issue.message}"] += 1
    return reasons.most_common(5)


def tasks_view(ctx: Context) -> Page:
    job = ctx.focused
    if job is None:
        return Page([heading("Tasks"), no_job(ctx)])
    lines: list[urwid.Widget] = [heading("Workers and machines"), *worker_lines(ctx.snapshot.workers)]
    lines.append(heading("Validation"))
    lines.append(line("  " + validation_summary(job)))
    tasks = ctx.snapshot.tasks
    reasons = failure_reasons(tasks)
    lines.append(heading(f"Most common failure reasons (in the {len(tasks)} tasks listed)"))
    if not reasons:
        lines.append(line("  none"))
    lines += [line(f"  {count:>5}  {clip(redact_text(reason), 70)}") for reason, count in reasons]
    shown = f"{ctx.task_offset}-{ctx.task_offset + len(tasks) - 1}" if tasks else "none"
    lines.append(heading(f"Tasks of {job.name} (state: {ctx.task_state or 'all'}; #{shown}, {TASK_PAGE} a page)"))
    lines.append(line(f"  {'TASK':<8} {'STATE':<9} {'ATTEMPTS':>8}  REASON", "dim"))
    focus = len(lines)
    for i, task in enumerate(tasks):
        reason = task.reasons[0].as_feedback() if task.reasons else ""
        if i == ctx.task_cursor:
            focus = len(lines)
        lines.append(
            row(
                i == ctx.task_cursor,
                f"{task.index:<8} {task.state.value:<9} {task.attempts:>8}  {clip(redact_text(reason), 48)}",
            )
        )
    if not tasks:
        lines.append(line("  no tasks in this state"))
    return Page(lines, focus)


def worker_lines(workers: Sequence[WorkerRow] | None) -> list[urwid.Widget]:
    if workers is None:
        return [line(f"  {NO_WORKERS}")]
    if not workers:
        return [line("  none working this job")]
    out: list[urwid.Widget] = [line(f"  {'HOST':<24} {'PID':>8} {'STATE':<10} {'FLIGHT':>6} {'SAMPLES/S':>9}", "dim")]
    for w in workers:
        rate = per_second(w.samples_per_s)
        out.append(line(f"  {clip(w.host, 24):<24} {w.pid:>8} {clip(w.state, 10):<10} {w.in_flight:>6} {rate:>9}"))
    return out


def validation_summary(job: JobView) -> str:
    totals = job.totals
    if totals is None or not totals.attempts:
        return f"no attempts recorded; {job.accepted} accepted, {job.counts.get(TaskState.REJECTED, 0)} rejected"
    passed = totals.attempts - totals.provider_errors - totals.invalid
    return (
        f"{totals.attempts} attempts: {passed} passed ({percent(passed, totals.attempts)}),"
        f" {totals.invalid} invalid, {provider_errors(job)[0]} provider errors"
    )


# --- task inspector -------------------------------------------------------------------------


def _json_lines(value: JSON, detail: int) -> list[str]:
    text = json.dumps(value, indent=2, ensure_ascii=False)
    lines = text.splitlines()
    return lines if detail or len(lines) <= 12 else [*lines[:12], f"… {len(lines) - 12} more lines (v shows all)"]


def inspector(ctx: Context) -> Page:
    detail = ctx.snapshot.task
    if detail is None:
        return Page([heading("Task inspector"), line("  no task chosen: pick one in the tasks view (Enter or i)")])
    task = detail.task
    plural = "" if task.attempts == 1 else "s"
    lines: list[urwid.Widget] = [heading(f"Task {task.key}: {task.state.value} after {task.attempts} attempt{plural}")]
    if task.seed.axes:
        lines.append(line("  axes: " + ", ".join(f"{k} = {v}" for k, v in task.seed.axes.items())))
    if task.seed.row:
        lines.append(line("  input: " + clip(json.dumps(task.seed.row, ensure_ascii=False), 70)))
    lines.append(line("  the store keeps verdicts and feedback, not prompts or failed responses", "dim"))
    for attempt in detail.attempts:
        status = "ok" if attempt.ok else "failed"
        finish = f", finish {attempt.finish_reason}" if attempt.finish_reason else ""
        on = f"{attempt.provider}/{attempt.model}" if attempt.model else attempt.provider
        lines.append(line(f"Attempt {attempt.number} on {on}: {status}, {attempt.latency_s:.2f}s{finish}"))
        if attempt.error:
            lines += wrapped(f"error: {redact_text(attempt.error)}", "bad")
        for issue in attempt.issues:
            lines += wrapped(f"feedback: {redact_text(issue.as_feedback())}")
    for reason in task.reasons:
        lines += wrapped(f"Rejected: {redact_text(reason.as_feedback())}", "bad", indent="")
    if detail.sample is not None:
        lines.append(heading(f"Response (accepted sample, seq {detail.sample.seq})"))
        lines += [line("  " + text) for text in _json_lines(detail.sample.content, ctx.detail)]
    return Page(lines)


# --- logs and events ------------------------------------------------------------------------


def events_view(ctx: Context) -> Page:
    shown = [e for e in ctx.snapshot.events if ctx.events.admits(e)]
    lines: list[urwid.Widget] = [heading(f"Events, newest last ({ctx.events.describe()})")]
    if not shown:
        lines.append(line("  no events match"))
    for event in shown:
        where = f"{event.job}" + (f"/{event.task_index}" if event.task_index is not None else "")
        who = f" [{event.provider}]" if event.provider else ""
        text = f"{clock(event.at)} {event.severity:<7} {where} {event.kind}{who}: {redact_text(event.message)}"
        attr = "bad" if event.severity == "error" else None
        if not ctx.detail:
            lines.append(line(clip(text, 78), attr))
            continue
        lines += wrapped(text, attr, indent="")
        if event.data:
            data = json.dumps(redact_value(event.data), ensure_ascii=False, default=str)
            lines += wrapped(redact_text(data), "dim", indent="    ")
    return Page(lines, max(0, len(lines) - 1))


# --- settings -------------------------------------------------------------------------------


def settings(ctx: Context) -> Page:
    lines: list[urwid.Widget] = [
        heading("Settings"),
        line(f"  store     {redact_url(ctx.store_url)}"),
        line(f"  data dir  {ctx.data_dir}"),
        heading("Installed plugins"),
        *[line(f"  {p}") for p in ctx.plugins],
        heading("Jobs (d deletes the selected job after you confirm; its dataset stays)"),
    ]
    focus = 0
    if not ctx.snapshot.jobs:
        lines += no_jobs()
    for i, job in enumerate(ctx.snapshot.jobs):
        finished = job.record.state in (JobState.DONE, JobState.CANCELLED, JobState.FAILED)
        note = "finished" if finished else "not finished"
        if i == ctx.job_cursor:
            focus = len(lines)
        text = f"{clip(job.name, 24):<24} {job.record.state.value:<9} {job.accepted}/{job.record.target}  {note}"
        lines.append(row(i == ctx.job_cursor, text))
    return Page(lines, focus)
